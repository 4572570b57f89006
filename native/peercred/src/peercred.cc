// Kernel peer credentials of a connected Unix socket (SO_PEERCRED). Node exposes no API for
// them, and they are the only trustworthy answer to "which user is on the other end": the
// kernel records them at connect()/listen() time and the peer cannot forge them.
#include <node_api.h>
#include <string>

#ifdef _WIN32
// The Windows build exports the named-pipe functions instead (pipe_win.cc).
napi_value InitPipe(napi_env env, napi_value exports);
NAPI_MODULE(NODE_GYP_MODULE_NAME, InitPipe)
#else
#include <sys/socket.h>
#include <sys/types.h>
#include <cerrno>
#include <cstring>

namespace {

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

napi_value SetInt(napi_env env, napi_value object, const char* name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, object, name, v);
  return object;
}

// peerCredentials(fd) -> { pid, uid, gid }
napi_value PeerCredentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1) return Throw(env, "peerCredentials(fd): fd is required");
  napi_valuetype type;
  napi_typeof(env, argv[0], &type);
  if (type != napi_number) return Throw(env, "peerCredentials(fd): fd must be a number");
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  if (fd < 0) return Throw(env, "peerCredentials(fd): fd must be a non-negative descriptor");
  struct ucred cred;
  socklen_t len = sizeof(cred);
  std::memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return Throw(env, std::string("SO_PEERCRED failed: ") + std::strerror(errno));
  }
  if (len != sizeof(cred)) return Throw(env, "SO_PEERCRED returned an unexpected size");
  napi_value result;
  napi_create_object(env, &result);
  SetInt(env, result, "pid", cred.pid);
  SetInt(env, result, "uid", cred.uid);
  SetInt(env, result, "gid", cred.gid);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, PeerCredentials, nullptr, &fn);
  napi_set_named_property(env, exports, "peerCredentials", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
#endif
