// Windows half of the tray IPC (see docs/tray.md): a named pipe created with an explicit
// security descriptor, and the identities of both ends. Written against the documented Win32
// APIs; NOT compiled or run on our Linux machines. libuv creates pipes with the default DACL,
// so the instances are created here and each connected handle is given to Node as an fd
// (uv_open_osfhandle), which JavaScript wraps with `new net.Socket({ fd })`.
#ifdef _WIN32
#include <windows.h>
#include <sddl.h>
#include <node_api.h>
#include <uv.h>
#include <atomic>
#include <string>
#include <thread>

namespace {

std::wstring Wide(const std::string& s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, nullptr, 0);
  std::wstring w(n > 0 ? n - 1 : 0, L'\0');
  if (n > 1) MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, &w[0], n);
  return w;
}

std::string GetString(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, v, &s[0], len + 1, &len);
  return s;
}

// The user SID of a process, as "S-1-5-...", or "" when it cannot be read.
std::string ProcessSid(DWORD pid) {
  std::string result;
  HANDLE process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!process) return result;
  HANDLE token = nullptr;
  if (OpenProcessToken(process, TOKEN_QUERY, &token)) {
    DWORD size = 0;
    GetTokenInformation(token, TokenUser, nullptr, 0, &size);
    std::string buffer(size, '\0');
    if (size && GetTokenInformation(token, TokenUser, &buffer[0], size, &size)) {
      LPSTR text = nullptr;
      if (ConvertSidToStringSidA(reinterpret_cast<TOKEN_USER*>(&buffer[0])->User.Sid, &text)) {
        result = text;
        LocalFree(text);
      }
    }
    CloseHandle(token);
  }
  CloseHandle(process);
  return result;
}

struct ClientInfo {
  int fd = -1;
  DWORD pid = 0;
  std::string sid;
  std::string error;
};

struct Listener {
  std::wstring name;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  std::atomic<bool> stopping{false};
  std::thread thread;
};

void CallJs(napi_env env, napi_value callback, void*, void* data) {
  ClientInfo* info = static_cast<ClientInfo*>(data);
  if (env && callback) {
    napi_value args[2], undefined;
    napi_get_undefined(env, &undefined);
    if (!info->error.empty()) {
      napi_create_string_utf8(env, info->error.c_str(), NAPI_AUTO_LENGTH, &args[0]);
      napi_get_null(env, &args[1]);
    } else {
      napi_get_null(env, &args[0]);
      napi_create_object(env, &args[1]);
      napi_value v;
      napi_create_int32(env, info->fd, &v);
      napi_set_named_property(env, args[1], "fd", v);
      napi_create_uint32(env, info->pid, &v);
      napi_set_named_property(env, args[1], "pid", v);
      napi_create_string_utf8(env, info->sid.c_str(), NAPI_AUTO_LENGTH, &v);
      napi_set_named_property(env, args[1], "sid", v);
    }
    napi_call_function(env, undefined, callback, 2, args, nullptr);
  }
  delete info;
}

void Serve(Listener* l) {
  SECURITY_ATTRIBUTES sa{sizeof(sa), l->descriptor, FALSE};
  bool first = true;
  while (!l->stopping) {
    // The first instance claims the name: if anyone else holds it, we fail rather than share it.
    HANDLE pipe = CreateNamedPipeW(l->name.c_str(), PIPE_ACCESS_DUPLEX | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0),
                                   PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                                   PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0, &sa);
    if (pipe == INVALID_HANDLE_VALUE) {
      auto* info = new ClientInfo();
      info->error = "CreateNamedPipeW failed: error " + std::to_string(GetLastError());
      napi_call_threadsafe_function(l->tsfn, info, napi_tsfn_blocking);
      return;
    }
    first = false;
    bool connected = ConnectNamedPipe(pipe, nullptr) || GetLastError() == ERROR_PIPE_CONNECTED;
    if (!connected || l->stopping) {
      CloseHandle(pipe);
      continue;
    }
    auto* info = new ClientInfo();
    if (!GetNamedPipeClientProcessId(pipe, &info->pid) || (info->sid = ProcessSid(info->pid)).empty()) {
      // Nobody we can name gets an answer.
      DisconnectNamedPipe(pipe);
      CloseHandle(pipe);
      delete info;
      continue;
    }
    info->fd = uv_open_osfhandle(pipe);
    napi_call_threadsafe_function(l->tsfn, info, napi_tsfn_blocking);
  }
}

void Stop(Listener* l) {
  if (l->stopping.exchange(true)) return;
  // Unblock ConnectNamedPipe with a connection of our own, then wait for the thread.
  HANDLE poke = CreateFileW(l->name.c_str(), GENERIC_READ, 0, nullptr, OPEN_EXISTING, 0, nullptr);
  if (poke != INVALID_HANDLE_VALUE) CloseHandle(poke);
  if (l->thread.joinable()) l->thread.join();
  napi_release_threadsafe_function(l->tsfn, napi_tsfn_release);
}

void Finalize(napi_env, void* data, void*) {
  Listener* l = static_cast<Listener*>(data);
  Stop(l);
  if (l->descriptor) LocalFree(l->descriptor);
  delete l;
}

// pipeClose(handle): stops accepting; connected clients keep their sockets.
napi_value PipeClose(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  void* data = nullptr;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_error(env, nullptr, "pipeClose(handle)");
    return nullptr;
  }
  Stop(static_cast<Listener*>(data));
  return nullptr;
}

// pipeListen(name, sddl, onClient(error, { fd, pid, sid })) -> handle (closing: pipeClose(handle))
napi_value PipeListen(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  if (argc < 3) {
    napi_throw_error(env, nullptr, "pipeListen(name, sddl, onClient)");
    return nullptr;
  }
  auto* l = new Listener();
  l->name = Wide(GetString(env, argv[0]));
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(Wide(GetString(env, argv[1])).c_str(), SDDL_REVISION_1, &l->descriptor, nullptr)) {
    delete l;
    napi_throw_error(env, nullptr, "the security descriptor (SDDL) is not valid");
    return nullptr;
  }
  napi_value resource;
  napi_create_string_utf8(env, "vigil-tray-pipe", NAPI_AUTO_LENGTH, &resource);
  napi_create_threadsafe_function(env, argv[2], nullptr, resource, 0, 1, nullptr, nullptr, nullptr, CallJs, &l->tsfn);
  l->thread = std::thread(Serve, l);
  napi_value handle;
  napi_create_external(env, l, Finalize, nullptr, &handle);
  return handle;
}

// pipeConnect(name) -> { fd, serverPid, serverSid }; the caller checks serverSid.
napi_value PipeConnect(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  std::wstring name = Wide(GetString(env, argv[0]));
  // SECURITY_IDENTIFICATION: the server may learn who we are but not act as us.
  HANDLE pipe = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
  if (pipe == INVALID_HANDLE_VALUE) {
    napi_throw_error(env, nullptr, ("cannot open the Vigil pipe: error " + std::to_string(GetLastError())).c_str());
    return nullptr;
  }
  ULONG pid = 0;
  std::string sid = GetNamedPipeServerProcessId(pipe, &pid) ? ProcessSid(pid) : "";
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_int32(env, uv_open_osfhandle(pipe), &v);
  napi_set_named_property(env, result, "fd", v);
  napi_create_uint32(env, pid, &v);
  napi_set_named_property(env, result, "serverPid", v);
  napi_create_string_utf8(env, sid.c_str(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "serverSid", v);
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
