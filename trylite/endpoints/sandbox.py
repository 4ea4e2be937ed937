"""The sandbox of endpoint snippets: RestrictedPython, run in a process of its own.

Two walls stand between a snippet and the worker serving it.

**The language.** :func:`compile_snippet` compiles with RestrictedPython and a policy that
also refuses imports and class statements: no name or attribute starting with ``_``, no frame,
code or generator internals (``gi_frame``, ``f_globals``, ``tb_frame``…), ``print`` collected
into the log. At run time the snippet sees only the globals :func:`_snippet_globals` makes —
a short list of builtins (no ``type``, ``getattr``, ``vars``, ``globals``, ``open``,
``__import__``, ``eval``…), guarded attribute access (``_`` names, frame internals and every
``format``/``format_map``/``mro`` refused, so format strings cannot walk attributes either),
guarded writes (only to its own lists, dicts and sets) — and the proxies it works through.

**The process.** Each run happens in a fresh child process forked from a *zygote*: a small
Python process per worker process, started on first use with an empty environment and only
this module loaded (never the worker's modules, settings or connections). The child limits
its own address space (``[endpoint] memory`` beyond what it starts with), CPU time and file
writes with ``setrlimit``, runs the snippet and exits. The worker speaks to it over a socket in
length-prefixed JSON frames it reads with a deadline: at ``[endpoint] timeout`` seconds it kills
the child with ``SIGKILL`` — nothing a snippet can catch — and answers 504, and the worker
serves on. Nothing the child sends is trusted: frames are bounded (``[endpoint]
max_response``), JSON only (never pickle), and checked.

The snippet's ``env`` calls travel to the worker (``{"op": "call", …}``), which runs them in
the request's transaction as the run-as person and sends the JSON result back; ``log`` sends
``{"op": "log", …}``; the run ends with ``result`` (a header frame, then the body frame),
``raise`` (a :class:`UserError` or HTTP error the snippet raised) or ``crash`` (anything
else, with the snippet's traceback for the log). If a data-layer call fails, the worker kills
the child and the failure answers as it would anywhere (the snippet never sees it).
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import functools
import gc
import hashlib
import hmac
import importlib
import json
import marshal
import math
import operator
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

from .. import json as json_module
from ..exceptions import UserError as ServerUserError

__all__ = ['Answer', 'Limits', 'SnippetFailed', 'SnippetRaised', 'SnippetTimeout',
           'compile_snippet', 'run', 'zygote']

#: The file name snippets are compiled under (tracebacks show it).
FILENAME = '<endpoint>'
#: The exceptions a snippet may raise to answer with a status, by name.
RAISABLE = ('UserError', 'BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'Conflict')
#: Bytes a frame may hold beyond ``max_response`` (the JSON around a body or a call).
FRAME_MARGIN = 65536
#: At most this many ``log`` calls of one run reach the worker's log.
MAX_LOGS = 100
#: At most this many characters of one ``log`` message are kept.
MAX_LOG_LENGTH = 2000


# -- compiling (in the worker) ----------------------------------------------------------------
class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, refusing imports and class statements too."""

    def visit_Import(self, node: Any) -> Any:
        self.error(node, 'Imports are not allowed: use the globals a snippet gets.')
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node: Any) -> Any:
        self.error(node, 'Class statements are not allowed.')
        return node


@functools.lru_cache(maxsize=256)
def compile_snippet(source: str) -> bytes:
    """*source* compiled under the sandbox's policy, as :mod:`marshal` bytes for the child;
    :class:`~trylite.exceptions.UserError` listing every line at fault otherwise."""
    if not isinstance(source, str) or not source.strip():
        raise ServerUserError('Invalid code', 'An endpoint needs a Python snippet.')
    compiled = compile_restricted_exec(source, FILENAME, policy=_Policy)
    if compiled.errors or compiled.code is None:
        raise ServerUserError('Invalid code', ' '.join(compiled.errors) or 'It does not compile.')
    return marshal.dumps(compiled.code)


# -- running (the worker's side) --------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    #: Seconds, from the start of the run to its answer.
    timeout: float
    #: Bytes of memory the snippet may allocate beyond the child's own.
    memory: int
    #: Bytes of the answer's body (and of any frame, give or take :data:`FRAME_MARGIN`).
    max_response: int


@dataclass(frozen=True)
class Answer:
    """What the snippet answered, checked."""

    status: int
    headers: list[tuple[str, str]]
    content_type: str | None
    body: bytes


class SnippetTimeout(Exception):
    """The snippet ran past its deadline; its process was killed."""


class SnippetFailed(Exception):
    """The snippet failed (an error of its own, a bad result, memory or CPU exhausted); the
    message, with the snippet's traceback, is for the log only."""


class SnippetRaised(Exception):
    """The snippet raised one of :data:`RAISABLE` to answer with its status."""

    def __init__(self, kind: str, message: str, description: str) -> None:
        super().__init__(kind, message, description)
        self.kind = kind
        self.message = message
        self.description = description


#: Runs one data-layer call ``(model, method, args, kwargs)`` for the snippet.
Call = Callable[[str, str, list[Any], dict[str, Any]], Any]
#: Writes one snippet message ``(level, message)`` to the log.
Log = Callable[[str, str], None]

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_HEADER_VALUE = re.compile(r'[^\x00-\x08\x0a-\x1f\x7f]{0,8000}')
_FORBIDDEN_HEADERS = frozenset({'content-length', 'transfer-encoding', 'connection',
                                'keep-alive', 'upgrade', 'trailer', 'te'})
LEVELS = ('debug', 'info', 'warning', 'error')


def run(code: bytes, job: Mapping[str, Any], body: bytes, limits: Limits, call: Call,
        log: Log) -> Answer:
    """Run the compiled snippet *code* in a fresh sandbox process with the globals *job*
    describes (``request``, ``user``, ``caller``) and the request body *body*.

    Raises :class:`SnippetTimeout`, :class:`SnippetFailed` or :class:`SnippetRaised`, or
    whatever *call* raised (the child is killed first).
    """
    deadline = time.monotonic() + limits.timeout
    try:
        connection, pid = _zygote().fork()
    except (OSError, SnippetTimeout, SnippetFailed) as exc:  # the zygote died or hangs
        raise SnippetFailed(f'the sandbox could not start: {exc!r}') from None
    finished = False
    try:
        setup = {**job, 'limits': {'memory': limits.memory, 'timeout': limits.timeout,
                                   'max_response': limits.max_response}}
        _send(connection, json_module.dumps(setup).encode(), deadline)
        _send(connection, code, deadline)
        _send(connection, body, deadline)
        maxlength = limits.max_response + FRAME_MARGIN
        logged = 0
        while True:
            message = _message(_receive(connection, deadline, maxlength))
            op = message.get('op')
            if op == 'call':
                value = call(*_call_of(message))
                _send(connection, json_module.dumps({'value': value}).encode(), deadline)
            elif op == 'log':
                logged += 1
                if logged <= MAX_LOGS:
                    log(*_log_of(message))
            elif op == 'result':
                answer = _answer(message, _receive(connection, deadline, maxlength), limits)
                finished = True
                return answer
            elif op == 'raise':
                finished = True
                raise SnippetRaised(*_raised(message))
            elif op == 'crash':
                finished = True
                raise SnippetFailed(_text(message.get('error')) or 'the snippet failed')
            else:
                raise SnippetFailed('the sandbox sent a message it should not have')
    finally:
        connection.close()
        if not finished:
            _kill(pid)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own
        os.kill(pid, signal.SIGKILL)


def _message(frame: bytes) -> dict[str, Any]:
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        raise SnippetFailed('the sandbox sent something that is not JSON (or too deep)'
                            ) from None
    if not isinstance(message, dict):
        raise SnippetFailed('the sandbox sent something that is not a message')
    return message


def _text(value: Any, limit: int = 20000) -> str:
    return value[:limit] if isinstance(value, str) else ''


def _call_of(message: dict[str, Any]) -> tuple[str, str, list[Any], dict[str, Any]]:
    model, method = message.get('model'), message.get('method')
    args, kwargs = message.get('args'), message.get('kwargs')
    if not (isinstance(model, str) and isinstance(method, str) and isinstance(args, list)
            and isinstance(kwargs, dict)):
        raise SnippetFailed('the sandbox sent a malformed call')
    return model, method, args, kwargs


def _log_of(message: dict[str, Any]) -> tuple[str, str]:
    level = message.get('level')
    return (level if level in LEVELS else 'info',
            _text(message.get('message'), MAX_LOG_LENGTH))


def _raised(message: dict[str, Any]) -> tuple[str, str, str]:
    kind = message.get('kind')
    if kind not in RAISABLE:
        raise SnippetFailed('the sandbox raised something it should not have')
    return kind, _text(message.get('message'), 500), _text(message.get('description'), 2000)


def _answer(message: dict[str, Any], body: bytes, limits: Limits) -> Answer:
    """The answer *message* describes, checked (:class:`SnippetFailed` naming what is
    wrong)."""
    status, headers, content_type = (message.get('status'), message.get('headers'),
                                     message.get('content_type'))
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise SnippetFailed(f'the result\'s status_code must be 200 to 599, not {status!r}')
    if not isinstance(headers, list) or not all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str)
            and isinstance(h[1], str) and _HEADER_NAME.fullmatch(h[0])
            and _HEADER_VALUE.fullmatch(h[1]) for h in headers):
        raise SnippetFailed('the result\'s headers must map names to one-line text values')
    if any(name.lower() in _FORBIDDEN_HEADERS for name, _value in headers):
        raise SnippetFailed('the result may not set Content-Length, Transfer-Encoding or '
                            'connection headers')
    if content_type is not None and not (isinstance(content_type, str)
                                         and _HEADER_VALUE.fullmatch(content_type)):
        raise SnippetFailed('the result\'s content type must be one line of text')
    if len(body) > limits.max_response:
        raise SnippetFailed(f'the answer is larger than {limits.max_response} bytes '
                            '([endpoint] max_response)')
    return Answer(status, [(name, value) for name, value in headers], content_type, body)


# -- frames --------------------------------------------------------------------------------------
def _send(connection: socket.socket, data: bytes, deadline: float | None = None) -> None:
    """One frame: 4 bytes of length (big-endian), then *data*."""
    if deadline is not None:
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
    try:
        connection.sendall(len(data).to_bytes(4, 'big') + data)
    except TimeoutError:
        raise SnippetTimeout() from None
    except OSError:
        if deadline is None:
            raise
        raise SnippetFailed('the sandbox process ended without an answer (out of memory or '
                            'CPU time?)') from None


def _receive(connection: socket.socket, deadline: float | None = None,
             maxlength: int | None = None) -> bytes:
    """One frame (refused past *maxlength* bytes), read by *deadline*."""
    size = int.from_bytes(_exactly(connection, 4, deadline), 'big')
    if maxlength is not None and size > maxlength:
        raise SnippetFailed('the snippet sent more than [endpoint] max_response allows')
    return _exactly(connection, size, deadline)


def _exactly(connection: socket.socket, size: int, deadline: float | None) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SnippetTimeout()
            connection.settimeout(remaining)
        try:
            count = connection.recv_into(view[got:])
        except TimeoutError:
            raise SnippetTimeout() from None
        except OSError:
            count = 0
        if not count:
            if deadline is None:
                raise EOFError('the worker is gone')
            raise SnippetFailed('the sandbox process ended without an answer (out of memory '
                                'or CPU time?)')
        got += count
    return bytes(buffer)


# -- the zygote ---------------------------------------------------------------------------------
_BOOT = ('import json, sys; sys.path[:0] = json.loads(sys.argv[1]); '
         'from trylite.endpoints.sandbox import zygote; zygote(int(sys.argv[2]))')


class _Zygote:
    """The zygote of this process: forks a sandbox child per run."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        paths = [os.path.abspath(path or os.curdir) for path in sys.path]
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, '-I', '-c', _BOOT, json.dumps(paths), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env={}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True, cwd='/')
        theirs.close()
        self.control = ours
        self.owner = os.getpid()
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def fork(self) -> tuple[socket.socket, int]:
        """A new child: the socket to it, and its process id."""
        ours, theirs = socket.socketpair()
        try:
            with self.lock:
                socket.send_fds(self.control, [b'F'], [theirs.fileno()])
                pid = int.from_bytes(_exactly(self.control, 4, time.monotonic() + 10), 'big')
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return ours, pid


_current: _Zygote | None = None
_zygote_lock = threading.Lock()


def _zygote() -> _Zygote:
    """The zygote of this process, started (again) when there is none alive."""
    global _current
    current = _current
    if current is not None and current.alive():
        return current
    with _zygote_lock:
        if _current is None or not _current.alive():
            _current = _Zygote()
        return _current


def zygote(fd: int) -> NoReturn:
    """The zygote's loop (in its own process): fork a child for each socket received on the
    control socket *fd*; exit when the worker is gone."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    _preload()
    gc.freeze()  # children never touch the zygote's objects' pages to collect them
    control = socket.socket(fileno=fd)
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 1, 1)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(fds[0])
        for received in fds:
            os.close(received)
        control.sendall(pid.to_bytes(4, 'big'))


# -- the child ----------------------------------------------------------------------------------
def _child(fd: int) -> NoReturn:
    """Serve one run on the socket *fd*, then exit."""
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        connection = socket.socket(fileno=fd)
        _serve(connection)
        status = 0
    finally:
        os._exit(status)


def _serve(connection: socket.socket) -> None:
    job = json.loads(_receive(connection))
    code = marshal.loads(_receive(connection))  # noqa: S302 (compiled by the worker)
    body = _receive(connection)
    limits = job['limits']
    _limit_resources(limits['memory'], limits['timeout'])
    channel = _Channel(connection)
    namespace = _snippet_globals(job, body, channel)
    try:
        exec(code, namespace)  # noqa: S102 (RestrictedPython code, restricted globals)
        header, payload = _result(namespace.get('result'))
    except _Raisable as exc:
        header, payload = {'op': 'raise', 'kind': exc.kind, 'message': exc.message,
                           'description': exc.description}, None
    except BaseException as exc:  # noqa: BLE001 (everything else is a snippet failure)
        header, payload = {'op': 'crash', 'error': _describe(exc)}, None
    printed = namespace.get('_print')
    if isinstance(printed, PrintCollector) and printed.txt:
        channel.log('info', ''.join(printed.txt))
    channel.send(header)
    if payload is not None:
        _send(connection, payload)


def _limit_resources(memory: int, timeout: float) -> None:
    """Cap the address space at what the child uses now plus *memory*, the CPU time at the
    timeout (a backstop: the worker kills the child at the deadline), and file writes."""
    try:
        with open('/proc/self/statm', encoding='ascii') as statm:
            used = int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:  # not Linux: no address-space limit
        used = -1
    if used >= 0:
        resource.setrlimit(resource.RLIMIT_AS, (used + memory, used + memory))
    cpu = math.ceil(timeout) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _describe(exc: BaseException) -> str:
    """The exception and the snippet's own lines of its traceback (for the worker's log)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if frame.filename == FILENAME]
    where = ''.join(f'\n  line {frame.lineno}' for frame in frames[-5:])
    return f'{type(exc).__name__}: {exc}'[:2000] + where


def _result(result: Any) -> tuple[dict[str, Any], bytes]:
    """The header frame and body of the snippet's ``result``."""
    if isinstance(result, Response):
        return ({'op': 'result', 'status': result.status, 'headers': result.headers,
                 'content_type': result.content_type}, result.body)
    if not isinstance(result, dict):
        raise TypeError('the snippet must set result to a dict {"payload", "status_code", '
                        f'"headers"}} or to a Response, not {type(result).__name__}')
    unknown = set(result) - {'payload', 'status_code', 'headers'}
    if unknown:
        raise TypeError(f'result has unknown keys: {", ".join(sorted(map(str, unknown)))}')
    headers = result.get('headers') or {}
    if not isinstance(headers, dict):
        raise TypeError('result["headers"] must be a dict')
    body, content_type = b'', None
    if 'payload' in result:
        body, content_type = json_module.dumps(result['payload']).encode(), 'application/json'
    return ({'op': 'result', 'status': result.get('status_code', 200),
             'headers': [[str(k), str(v)] for k, v in headers.items()],
             'content_type': content_type}, body)


class _Channel:
    """The child's end of the conversation with the worker."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection

    def send(self, message: dict[str, Any]) -> None:
        _send(self._connection, json_module.dumps(message).encode())

    def call(self, model: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
             ) -> Any:
        self.send({'op': 'call', 'model': model, 'method': method, 'args': list(args),
                   'kwargs': kwargs})
        return json.loads(_receive(self._connection))['value']

    def log(self, level: str, message: str) -> None:
        self.send({'op': 'log', 'level': level, 'message': message[:MAX_LOG_LENGTH]})


# -- what a snippet sees --------------------------------------------------------------------------
class _Raisable(Exception):
    """An error a snippet raises to answer with a status."""

    kind = 'BadRequest'

    def __init__(self, description: str = '') -> None:
        super().__init__(description)
        self.message = ''
        self.description = str(description)


class UserError(_Raisable):
    """``raise UserError(message, description='')``: 400 with that message."""

    kind = 'UserError'

    def __init__(self, message: str = '', description: str = '') -> None:
        super().__init__(description)
        self.message = str(message)


def _http_error(name: str, meaning: str) -> type[_Raisable]:
    return type(name, (_Raisable,), {'kind': name, '__doc__': f'``raise {name}(description)``: '
                                     f'{meaning}.'})


BadRequest = _http_error('BadRequest', '400')
Unauthorized = _http_error('Unauthorized', '401 with the challenge')
Forbidden = _http_error('Forbidden', '403')
NotFound = _http_error('NotFound', '404')
Conflict = _http_error('Conflict', '409')


class Response:
    """``Response(body, status=200, headers=None, content_type=None)``: an answer of any
    content type (*body* is text, sent as UTF-8, or bytes)."""

    def __init__(self, body: str | bytes = b'', status: int = 200,
                 headers: dict[str, str] | None = None,
                 content_type: str | None = 'text/plain; charset=utf-8') -> None:
        self.body = body.encode('utf-8') if isinstance(body, str) else bytes(body)
        self.status = status
        self.headers = [[str(k), str(v)] for k, v in (headers or {}).items()]
        self.content_type = content_type


class _Method:
    """``env['model'].method(...)``: a data-layer call made by the worker."""

    __slots__ = ('_channel', '_method', '_model')

    def __init__(self, channel: _Channel, model: str, method: str) -> None:
        self._channel, self._model, self._method = channel, model, method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.call(self._model, self._method, args, kwargs)


class _Model:
    """``env['model']``: its methods are data-layer calls."""

    __slots__ = ('_channel', '_model')

    def __init__(self, channel: _Channel, model: str) -> None:
        self._channel, self._model = channel, model

    def __getattr__(self, method: str) -> _Method:
        if method.startswith('_'):
            raise AttributeError(method)
        return _Method(self._channel, self._model, method)


class _Env:
    """``env``: the data layer, as the person the snippet runs as."""

    __slots__ = ('_channel',)

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    def __getitem__(self, model: str) -> _Model:
        if not isinstance(model, str):
            raise KeyError(model)
        return _Model(self._channel, model)


class _Log:
    """``log(message, level='info')``: a line in the server's log, naming the endpoint."""

    __slots__ = ('_channel',)

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    def __call__(self, message: Any, level: str = 'info') -> None:
        if level not in LEVELS:
            raise ValueError(f'level is one of {", ".join(LEVELS)}')
        self._channel.log(level, str(message))


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """Attribute access of snippets: no ``_`` names, frame internals or formatting."""
    if (not isinstance(name, str) or name.startswith('_') or name in INSPECT_ATTRIBUTES
            or name in ('format', 'format_map', 'mro')):
        raise AttributeError(f'{name!r} may not be used in an endpoint snippet')
    return getattr(obj, name, *default)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    '+=': operator.iadd, '-=': operator.isub, '*=': operator.imul, '/=': operator.itruediv,
    '//=': operator.ifloordiv, '%=': operator.imod, '**=': operator.ipow,
    '<<=': operator.ilshift, '>>=': operator.irshift, '&=': operator.iand, '|=': operator.ior,
    '^=': operator.ixor}


def _inplace(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


_BUILTIN_NAMES = (
    'None', 'False', 'True', 'abs', 'all', 'any', 'bool', 'bytes', 'callable', 'chr', 'dict',
    'divmod', 'enumerate', 'filter', 'float', 'frozenset', 'int', 'isinstance', 'iter', 'len',
    'list', 'map', 'max', 'min', 'next', 'ord', 'pow', 'range', 'repr', 'reversed', 'round',
    'set', 'slice', 'sorted', 'str', 'sum', 'tuple', 'zip',
    'ArithmeticError', 'AssertionError', 'AttributeError', 'Exception', 'IndexError',
    'KeyError', 'LookupError', 'NameError', 'NotImplementedError', 'OverflowError',
    'RuntimeError', 'StopIteration', 'TypeError', 'ValueError', 'ZeroDivisionError')
#: Modules C code may import on a snippet's behalf (``datetime.strptime`` imports
#: ``_strptime`` through the builtins): loaded in the zygote already.
_IMPORTABLE = frozenset({'_strptime', 'time'})


def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
            level: int = 0) -> types.ModuleType:
    """``__import__`` for C code only (a snippet cannot name it): loaded helpers only."""
    if level == 0 and name in _IMPORTABLE and name in sys.modules:
        return sys.modules[name]
    raise ImportError(f'{name} cannot be imported in an endpoint snippet')


#: A snippet's builtins (a dict: C code looks ``__import__`` up in it).
_BUILTINS = {**{name: getattr(builtins, name) for name in _BUILTIN_NAMES}, '__import__': _import}


def _json_dumps(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """``json.dumps``: trylite's JSON (dates as ISO 8601 text), optionally indented."""
    text = json_module.dumps(value)
    if indent is None and not sort_keys:
        return text
    return json.dumps(json.loads(text), indent=indent, sort_keys=sort_keys, ensure_ascii=False)


def _json_loads(text: str | bytes) -> Any:
    return json_module.loads(text)


def _namespace(**members: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**members)


_DATETIME = _namespace(date=datetime.date, datetime=datetime.datetime, time=datetime.time,
                       timedelta=datetime.timedelta, timezone=datetime.timezone,
                       UTC=datetime.UTC)
_JSON = _namespace(dumps=_json_dumps, loads=_json_loads)
_HASHLIB = _namespace(sha1=hashlib.sha1, sha256=hashlib.sha256, sha512=hashlib.sha512,
                      md5=hashlib.md5, blake2b=hashlib.blake2b)
_HMAC = _namespace(new=hmac.new, compare_digest=hmac.compare_digest, digest=hmac.digest)


def _snippet_globals(job: dict[str, Any], body: bytes, channel: _Channel) -> dict[str, Any]:
    """Everything a snippet sees (see the module doc and docs/endpoints.md)."""
    request = job['request']
    xml = None
    if request.get('xml'):
        from xml.etree import ElementTree  # noqa: S405 (checked by the worker: no DTD)

        xml = ElementTree.fromstring(body)  # noqa: S314
    return {
        '__builtins__': dict(_BUILTINS), '__name__': 'endpoint',
        '_getattr_': _guarded_getattr, '_getitem_': _guarded_getitem, '_getiter_': iter,
        '_iter_unpack_sequence_': guarded_iter_unpack_sequence,
        '_unpack_sequence_': guarded_unpack_sequence, '_write_': full_write_guard,
        '_inplacevar_': _inplace, '_apply_': _apply, '_print_': PrintCollector,
        'env': _Env(channel), 'log': _Log(channel),
        'user': _namespace(**job['user']),
        'caller': _namespace(**job['caller']) if job.get('caller') else None,
        'request': _namespace(
            method=request['method'], path=request['path'], args=request['args'],
            headers=request['headers'], params=request['params'],
            content_type=request['content_type'], json=request.get('json'), data=body,
            form=request['form'], xml=xml),
        'datetime': _DATETIME, 'json': _JSON, 'hashlib': _HASHLIB, 'hmac': _HMAC,
        'Response': Response, 'UserError': UserError, 'BadRequest': BadRequest,
        'Unauthorized': Unauthorized, 'Forbidden': Forbidden, 'NotFound': NotFound,
        'Conflict': Conflict, 'result': None,
    }


def _preload() -> None:
    """What a child may need, loaded once in the zygote (a child never reads a file)."""
    importlib.import_module('_strptime')  # datetime.strptime
    import encodings.ascii  # noqa: F401
    import encodings.latin_1  # noqa: F401
    from xml.etree import ElementTree  # noqa: F401, S405

