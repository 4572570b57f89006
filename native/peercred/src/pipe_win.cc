// Windows half of the tray IPC (see docs/tray.md, threat model in docs/security.md): a named
// pipe created with an explicit security descriptor, and the identities of both ends. libuv
// creates pipes with the default DACL, so the instances are created here and each connected
// handle is given to Node as a CRT descriptor (uv_open_osfhandle), which JavaScript wraps with
// `new net.Socket({ fd })`. Compiled here with mingw-w64 and run under Wine with the real
// Windows node.exe (test/integration/win32-pipe-wine.e2e.test.ts); what only a real Windows
// machine can show is listed in docs/platforms.md.
#ifdef _WIN32
// <uv.h> brings <winsock2.h> before <windows.h>. Without WIN32_LEAN_AND_MEAN, a <windows.h>
// included first pulls in the old <winsock.h>, and the Windows SDK then fails on the second
// definition of sockaddr when <winsock2.h> follows (mingw only warns, which -Werror catches).
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <uv.h>
#include <node_api.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <string>

namespace {

// Every connected client is a pipe instance of its own, so instances are not limited here; the
// service caps connections in JavaScript (IPC_LIMITS.maxConnections) and closes the rest.
constexpr DWORD kBufferBytes = 64 * 1024;

std::wstring Wide(const std::string& s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, nullptr, 0);
  std::wstring w(n > 0 ? n - 1 : 0, L'\0');
  if (n > 1) MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, &w[0], n);
  return w;
}

std::string WinError(DWORD code) {
  char* text = nullptr;
  DWORD n = FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code,
                           0, reinterpret_cast<LPSTR>(&text), 0, nullptr);
  std::string message = n && text ? std::string(text, n) : std::string();
  if (text) LocalFree(text);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == ' ' || message.back() == '.')) message.pop_back();
  return (message.empty() ? "Windows error" : message) + " (Windows error " + std::to_string(code) + ")";
}

// Throws an Error whose `code` is "WIN32_<n>", so callers can tell "name taken" or "access
// denied" apart without parsing the message.
napi_value ThrowWin(napi_env env, const std::string& what, DWORD code) {
  std::string id = "WIN32_" + std::to_string(code);
  napi_throw_error(env, id.c_str(), (what + ": " + WinError(code)).c_str());
  return nullptr;
}

napi_value Throw(napi_env env, const char* message) {
  napi_throw_error(env, nullptr, message);
  return nullptr;
}

bool IsType(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype type;
  return napi_typeof(env, v, &type) == napi_ok && type == want;
}

bool GetString(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->assign(len, '\0');
  return napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len) == napi_ok;
}

std::string SidString(PSID sid) {
  std::string result;
  LPSTR text = nullptr;
  if (sid && ConvertSidToStringSidA(sid, &text)) {
    result = text;
    LocalFree(text);
  }
  return result;
}

// The user SID in a token, as "S-1-5-...", or "" when it cannot be read.
std::string TokenUserSid(HANDLE token) {
  DWORD size = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  if (!size) return "";
  std::string buffer(size, '\0');
  if (!GetTokenInformation(token, TokenUser, &buffer[0], size, &size)) return "";
  return SidString(reinterpret_cast<TOKEN_USER*>(&buffer[0])->User.Sid);
}

// What the listener thread hands to JavaScript: a connected instance and who is on it, or an
// error to report. The handle becomes a descriptor only on the JavaScript thread, so every path
// that cannot deliver it (closing function, no env) closes the handle instead of leaking it.
struct Delivery {
  HANDLE pipe = INVALID_HANDLE_VALUE;
  DWORD pid = 0;
  std::string sid;
  std::string error;
};

struct Listener {
  std::wstring name;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  HANDLE first = INVALID_HANDLE_VALUE;  // made on the JS thread, then owned by the thread
  HANDLE stop = nullptr;                // manual-reset: once set it stays set, so no stop is missed
  HANDLE thread = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  // Owners on the JS thread: the external handle and the thread-safe function's finalizer.
  int owners = 0;

  ~Listener() {
    if (first != INVALID_HANDLE_VALUE) CloseHandle(first);
    if (stop) CloseHandle(stop);
    if (descriptor) LocalFree(descriptor);
  }
};

HANDLE CreateInstance(Listener* l, bool first) {
  SECURITY_ATTRIBUTES sa{sizeof(sa), l->descriptor, FALSE};
  // FILE_FLAG_OVERLAPPED: libuv treats a handle without it as a blocking pipe, where a write
  // waits behind the pending zero-byte read it always keeps, so frames stall; and it lets this
  // thread wait for a client and for stop at once. FILE_FLAG_FIRST_PIPE_INSTANCE on the first:
  // if anyone already holds the name (an impostor, or a second service), creation fails instead
  // of quietly adding our instance next to theirs.
  DWORD openMode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  return CreateNamedPipeW(l->name.c_str(), openMode, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                          PIPE_UNLIMITED_INSTANCES, kBufferBytes, kBufferBytes, 0, &sa);
}

void CallJs(napi_env env, napi_value callback, void*, void* data) {
  Delivery* d = static_cast<Delivery*>(data);
  // env is null when the function is being torn down with items still queued.
  if (!env || !callback) {
    if (d->pipe != INVALID_HANDLE_VALUE) CloseHandle(d->pipe);
    delete d;
    return;
  }
  napi_value args[2], undefined, v;
  napi_get_undefined(env, &undefined);
  int fd = -1;
  if (d->error.empty()) {
    fd = uv_open_osfhandle(d->pipe);
    if (fd < 0) {
      CloseHandle(d->pipe);
      d->error = "uv_open_osfhandle failed for a connected client (out of descriptors?); it was disconnected";
    }
  }
  if (!d->error.empty()) {
    napi_create_string_utf8(env, d->error.c_str(), NAPI_AUTO_LENGTH, &args[0]);
    napi_get_null(env, &args[1]);
  } else {
    napi_get_null(env, &args[0]);
    napi_create_object(env, &args[1]);
    napi_create_int32(env, fd, &v);
    napi_set_named_property(env, args[1], "fd", v);
    napi_create_uint32(env, d->pid, &v);
    napi_set_named_property(env, args[1], "pid", v);
    napi_create_string_utf8(env, d->sid.c_str(), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, args[1], "sid", v);
  }
  delete d;
  // From here the descriptor belongs to JavaScript (listenTrayPipe closes it if it cannot wrap it).
  napi_call_function(env, undefined, callback, 2, args, nullptr);
}

// Non-blocking: the queue is unbounded, and the JS thread may be waiting for this thread to end
// (stop), so this thread must never wait for the JS thread.
void Send(Listener* l, Delivery* d) {
  if (napi_call_threadsafe_function(l->tsfn, d, napi_tsfn_nonblocking) != napi_ok) {
    if (d->pipe != INVALID_HANDLE_VALUE) CloseHandle(d->pipe);
    delete d;
  }
}

void Report(Listener* l, const std::string& error) {
  auto* d = new Delivery();
  d->error = error;
  Send(l, d);
}

enum class Identity { kKnown, kUnknown, kFatal };

// Who the client is, from the token the pipe captured when the client opened it: the identity
// the access check used. The client's PID would name a process that may have exited and been
// replaced, and a process token ignores a client thread's impersonation. The tray opens with
// SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION (static tracking), so the context exists from
// the open, before any data is read; a client that asked for dynamic tracking and has written
// nothing yet fails here (ERROR_CANNOT_IMPERSONATE) and is refused. Identification level lets
// this thread query the token but never act as the client.
Identity IdentifyClient(HANDLE pipe, Delivery* d, DWORD* error) {
  if (!GetNamedPipeClientProcessId(pipe, &d->pid)) d->pid = 0;  // for logs only
  if (!ImpersonateNamedPipeClient(pipe)) {
    *error = GetLastError();
    return Identity::kUnknown;
  }
  HANDLE token = nullptr;
  // OpenAsSelf: the check for opening the token uses the service's own context, since an
  // identification-level token cannot be used to open anything.
  BOOL opened = OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &token);
  *error = opened ? 0 : GetLastError();
  // If we cannot stop impersonating, this thread would go on as the client: stop serving.
  if (!RevertToSelf()) {
    if (opened) CloseHandle(token);
    *error = GetLastError();
    return Identity::kFatal;
  }
  if (!opened) return Identity::kUnknown;
  d->sid = TokenUserSid(token);
  if (d->sid.empty()) *error = GetLastError();
  CloseHandle(token);
  return d->sid.empty() ? Identity::kUnknown : Identity::kKnown;
}

enum class Wait { kConnected, kStopped, kFailed };

Wait AwaitClient(Listener* l, HANDLE pipe, HANDLE event, DWORD* error) {
  OVERLAPPED ov{};
  ov.hEvent = event;
  ResetEvent(event);
  if (ConnectNamedPipe(pipe, &ov)) return Wait::kConnected;
  DWORD code = GetLastError();
  if (code == ERROR_PIPE_CONNECTED) return Wait::kConnected;  // connected between create and here
  if (code != ERROR_IO_PENDING) {
    *error = code;
    return Wait::kFailed;
  }
  HANDLE waits[2] = {l->stop, event};
  DWORD which = WaitForMultipleObjects(2, waits, FALSE, INFINITE);
  DWORD bytes = 0;
  if (which != WAIT_OBJECT_0 + 1) {
    // Stop (or a failed wait): cancel, and wait for the cancel to land, because `ov` lives on
    // this stack and the system writes to it when the operation ends.
    CancelIoEx(pipe, &ov);
    GetOverlappedResult(pipe, &ov, &bytes, TRUE);
    return Wait::kStopped;
  }
  if (GetOverlappedResult(pipe, &ov, &bytes, FALSE)) return Wait::kConnected;
  *error = GetLastError();
  return Wait::kFailed;
}

// Hands a connected instance to JavaScript, or refuses it. False: the thread must stop.
bool Deliver(Listener* l, HANDLE pipe) {
  auto* d = new Delivery();
  DWORD error = 0;
  switch (IdentifyClient(pipe, d, &error)) {
    case Identity::kKnown:
      d->pipe = pipe;
      Send(l, d);
      return true;
    case Identity::kUnknown:
      // Nobody we cannot name gets an answer; the refusal is reported, never silent.
      DisconnectNamedPipe(pipe);
      CloseHandle(pipe);
      d->error = "refused a client that could not be identified (pid " + std::to_string(d->pid) + "): " + WinError(error);
      Send(l, d);
      return true;
    case Identity::kFatal:
      CloseHandle(pipe);
      d->error = "RevertToSelf failed after identifying a client; the pipe listener stopped: " + WinError(error);
      Send(l, d);
      return false;
  }
  return false;
}

DWORD WINAPI Serve(void* arg) {
  Listener* l = static_cast<Listener*>(arg);
  HANDLE pipe = l->first;
  l->first = INVALID_HANDLE_VALUE;
  HANDLE event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (!event) {
    Report(l, "CreateEvent failed; the pipe listener stopped: " + WinError(GetLastError()));
    CloseHandle(pipe);
    return 0;
  }
  while (pipe != INVALID_HANDLE_VALUE) {
    DWORD error = 0;
    Wait result = AwaitClient(l, pipe, event, &error);
    if (result == Wait::kStopped) break;
    if (result == Wait::kFailed) {
      // The client left before we saw it: make the same instance listen again (it is never
      // closed while it is the only one, so the name cannot be taken in between).
      if ((error == ERROR_NO_DATA || error == ERROR_BROKEN_PIPE) && DisconnectNamedPipe(pipe)) continue;
      Report(l, "ConnectNamedPipe failed; the pipe listener stopped: " + WinError(error));
      break;
    }
    // A new instance listens before the connected one is handed over, so the name always has
    // an instance of ours waiting and no other process can create the pipe in a gap.
    HANDLE next = CreateInstance(l, false);
    if (next == INVALID_HANDLE_VALUE) {
      Report(l, "cannot create the next pipe instance; the pipe listener stopped: " + WinError(GetLastError()));
      Deliver(l, pipe);
      pipe = INVALID_HANDLE_VALUE;
      break;
    }
    bool keepGoing = Deliver(l, pipe);
    pipe = next;
    if (!keepGoing) break;
  }
  if (pipe != INVALID_HANDLE_VALUE) CloseHandle(pipe);
  CloseHandle(event);
  return 0;
}

// JS thread only. Idempotent. After it returns the thread has ended, so it no longer calls the
// thread-safe function and holds no instance: the name is free again.
void StopThread(Listener* l) {
  if (!l->thread) return;
  SetEvent(l->stop);
  WaitForSingleObject(l->thread, INFINITE);
  CloseHandle(l->thread);
  l->thread = nullptr;
}

void Close(Listener* l) {
  StopThread(l);
  if (l->tsfn) {
    napi_release_threadsafe_function(l->tsfn, napi_tsfn_release);
    l->tsfn = nullptr;
  }
}

void Disown(Listener* l) {
  if (--l->owners == 0) delete l;
}

// Runs once the function is released, or when the environment is torn down: then it may come
// before the external's finalizer, and the thread must end before the function is freed.
void TsfnFinalized(napi_env, void* data, void*) {
  Listener* l = static_cast<Listener*>(data);
  StopThread(l);
  l->tsfn = nullptr;
  Disown(l);
}

void ExternalFinalized(napi_env, void* data, void*) {
  Listener* l = static_cast<Listener*>(data);
  Close(l);
  Disown(l);
}

// pipeClose(handle): stops accepting and returns when the listener thread has ended; connected
// clients keep their sockets.
napi_value PipeClose(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = nullptr;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || !IsType(env, argv[0], napi_external) ||
      napi_get_value_external(env, argv[0], &data) != napi_ok) {
    return Throw(env, "pipeClose(handle): handle must come from pipeListen");
  }
  Close(static_cast<Listener*>(data));
  return nullptr;
}

// pipeListen(name, sddl, onClient(error, { fd, pid, sid })) -> handle (closing: pipeClose(handle)).
// Throws (code VIGIL_PIPE_NAME_TAKEN) when the name is already held, instead of sharing it.
napi_value PipeListen(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 3;
  napi_value argv[3];
  std::string name, sddl;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 3 || !IsType(env, argv[0], napi_string) ||
      !IsType(env, argv[1], napi_string) || !IsType(env, argv[2], napi_function) || !GetString(env, argv[0], &name) || !GetString(env, argv[1], &sddl)) {
    return Throw(env, "pipeListen(name: string, sddl: string, onClient: function)");
  }
  auto* l = new Listener();
  l->name = Wide(name);
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(Wide(sddl).c_str(), SDDL_REVISION_1, &l->descriptor, nullptr)) {
    DWORD code = GetLastError();
    delete l;
    return ThrowWin(env, "the security descriptor (SDDL) is not valid", code);
  }
  l->stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (!l->stop) {
    DWORD code = GetLastError();
    delete l;
    return ThrowWin(env, "CreateEvent failed", code);
  }
  // The first instance is made here, so a taken name is an exception from pipeListen.
  // FILE_FLAG_FIRST_PIPE_INSTANCE is the race-free refusal; looking for the name first
  // (WaitNamedPipe neither connects nor takes an instance) gives the same refusal where that
  // flag is not honoured: Wine 8's server adds an instance to an existing pipe regardless.
  bool exists = WaitNamedPipeW(l->name.c_str(), 1) || GetLastError() == ERROR_SEM_TIMEOUT;
  l->first = exists ? INVALID_HANDLE_VALUE : CreateInstance(l, true);
  if (l->first == INVALID_HANDLE_VALUE) {
    DWORD code = exists ? ERROR_ACCESS_DENIED : GetLastError();
    delete l;
    if (code != ERROR_ACCESS_DENIED) return ThrowWin(env, "cannot create " + name, code);
    std::string message = "cannot create " + name + ": another process already holds the name (" + (exists ? "it exists" : WinError(code)) + ")";
    napi_throw_error(env, "VIGIL_PIPE_NAME_TAKEN", message.c_str());
    return nullptr;
  }
  napi_value resource;
  napi_create_string_utf8(env, "vigil-tray-pipe", NAPI_AUTO_LENGTH, &resource);
  // Unbounded queue (0), one thread (this one's reference, given back by Close).
  if (napi_create_threadsafe_function(env, argv[2], nullptr, resource, 0, 1, l, TsfnFinalized, nullptr, CallJs, &l->tsfn) != napi_ok) {
    delete l;
    return Throw(env, "pipeListen: napi_create_threadsafe_function failed");
  }
  l->owners = 1;  // the function's finalizer
  l->thread = CreateThread(nullptr, 0, Serve, l, 0, nullptr);
  if (!l->thread) {
    DWORD code = GetLastError();
    Close(l);  // releases the function; its finalizer frees l (and the first instance)
    return ThrowWin(env, "cannot start the pipe listener thread", code);
  }
  napi_value handle;
  if (napi_create_external(env, l, ExternalFinalized, nullptr, &handle) != napi_ok) {
    Close(l);
    return Throw(env, "pipeListen: napi_create_external failed");
  }
  l->owners++;
  return handle;
}

// pipeConnect(name, access) -> { fd, serverPid, ownerSid }. `access` is exactly the rights the
// caller needs (never GENERIC_WRITE: it includes FILE_CREATE_PIPE_INSTANCE, which the tray
// pipe's ACL denies to users, so asking for it is refused). The caller checks ownerSid: the
// pipe's owner, which only a process that may assign that SID as owner could have set.
napi_value PipeConnect(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2];
  std::string name;
  uint32_t access = 0;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 || !IsType(env, argv[0], napi_string) ||
      !IsType(env, argv[1], napi_number) || !GetString(env, argv[0], &name) || napi_get_value_uint32(env, argv[1], &access) != napi_ok) {
    return Throw(env, "pipeConnect(name: string, access: number)");
  }
  napi_value result, v;
  if (napi_create_object(env, &result) != napi_ok) return Throw(env, "pipeConnect: napi_create_object failed");
  std::wstring wide = Wide(name);
  // SECURITY_IDENTIFICATION: the server may learn who we are but not act as us; static
  // tracking (no SECURITY_CONTEXT_TRACKING) captures that identity at this open.
  // FILE_FLAG_OVERLAPPED: see CreateInstance (libuv's blocking-pipe fallback stalls writes).
  const DWORD flags = FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION;
  HANDLE pipe = INVALID_HANDLE_VALUE;
  for (int attempt = 0; attempt < 4; attempt++) {
    pipe = CreateFileW(wide.c_str(), access, 0, nullptr, OPEN_EXISTING, flags, nullptr);
    // Busy: every instance is taken for a moment (the listener is making the next one).
    if (pipe != INVALID_HANDLE_VALUE || GetLastError() != ERROR_PIPE_BUSY) break;
    WaitNamedPipeW(wide.c_str(), 500);
  }
  if (pipe == INVALID_HANDLE_VALUE) return ThrowWin(env, "cannot open " + name, GetLastError());
  ULONG pid = 0;
  if (!GetNamedPipeServerProcessId(pipe, &pid)) pid = 0;  // for messages only
  std::string owner;
  PSID ownerSid = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  // Needs READ_CONTROL on the handle; the tray's access includes it.
  if (GetSecurityInfo(pipe, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &ownerSid, nullptr, nullptr, nullptr, &sd) == ERROR_SUCCESS) {
    owner = SidString(ownerSid);
    LocalFree(sd);
  }
  int fd = uv_open_osfhandle(pipe);
  if (fd < 0) {
    CloseHandle(pipe);
    return Throw(env, "pipeConnect: uv_open_osfhandle failed (out of descriptors?)");
  }
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, result, "fd", v);
  napi_create_uint32(env, pid, &v);
  napi_set_named_property(env, result, "serverPid", v);
  napi_create_string_utf8(env, owner.c_str(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "ownerSid", v);
  return result;
}

}  // namespace

napi_value InitPipe(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "pipeListen", NAPI_AUTO_LENGTH, PipeListen, nullptr, &fn);
  napi_set_named_property(env, exports, "pipeListen", fn);
  napi_create_function(env, "pipeClose", NAPI_AUTO_LENGTH, PipeClose, nullptr, &fn);
  napi_set_named_property(env, exports, "pipeClose", fn);
  napi_create_function(env, "pipeConnect", NAPI_AUTO_LENGTH, PipeConnect, nullptr, &fn);
  napi_set_named_property(env, exports, "pipeConnect", fn);
  return exports;
}
#endif
