// Kernel peer credentials of a connected Unix socket: SO_PEERCRED on Linux, getpeereid() and
// LOCAL_PEERPID on macOS. Node exposes no API for them, and they are the only trustworthy
// answer to "which user is on the other end": the kernel records them at connect()/listen()
// time and the peer cannot forge them. The macOS half is written against the documented
// interfaces (getpeereid(3), <sys/un.h>); our Linux CI only syntax-checks it with clang
// (test/integration/native-cross-compile.test.ts), the macOS runner compiles it.
#include <node_api.h>
#include <string>

#ifdef _WIN32
// The Windows build exports the named-pipe functions instead (pipe_win.cc).
napi_value InitPipe(napi_env env, napi_value exports);
NAPI_MODULE(NODE_GYP_MODULE_NAME, InitPipe)
#else
#include <sys/socket.h>
#include <sys/types.h>
#ifdef __APPLE__
#include <sys/un.h>
#include <unistd.h>
#endif
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
#ifdef __APPLE__
  // getpeereid gives the effective uid and gid the peer had when it connected.
  uid_t uid = 0;
  gid_t gid = 0;
  if (getpeereid(fd, &uid, &gid) != 0) return Throw(env, std::string("getpeereid failed: ") + std::strerror(errno));
  // The pid is only for logs; -1 where LOCAL_PEERPID is missing (before macOS 10.8) or fails.
  pid_t pid = -1;
#ifdef LOCAL_PEERPID
  socklen_t pidLen = sizeof(pid);
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &pidLen) != 0 || pidLen != sizeof(pid)) pid = -1;
#endif
  napi_value result;
  napi_create_object(env, &result);
  SetInt(env, result, "pid", pid);
  SetInt(env, result, "uid", uid);
  SetInt(env, result, "gid", gid);
#else
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
#endif
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
