// Helpers for Vigil's fallback exec watcher (docs/application-control.md, "Fallback watcher").
//
//  * open(onExec): the kernel's proc connector (netlink, PROC_EVENT_EXEC). A reader thread
//    forwards every exec (pid, exec timestamp on CLOCK_MONOTONIC) to JS through a thread-safe
//    function with an unbounded queue, so the reader never waits for JS. Needs CAP_NET_ADMIN in
//    the initial user namespace; without it the bind/listen fails with EPERM and the caller
//    falls back to polling /proc.
//  * killIfSame(pid, startTicks, dev, ino): SIGKILL only if the pid is still the process that was
//    judged. pidfd_open pins the process first; then /proc/PID/stat's start time and the
//    executable's (dev, ino) must match, or nothing is sent. A reused pid therefore cannot be hit.
//  * monotonicNs() / bootTimeNs(): the clocks the proc connector and /proc/PID/stat use.
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace {

struct ExecEvent {
  int32_t pid;
  uint64_t timestamp_ns;
};

struct Watch {
  int sock = -1;
  int wake_fd = -1;
  napi_threadsafe_function tsfn = nullptr;
  std::thread reader;
  std::atomic<bool> stopping{false};
  bool closed = false;
  std::atomic<uint64_t> events{0}, lost{0};
};

napi_value throw_errno(napi_env env, const char* what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_throw(env, error);
  return nullptr;
}

// Subscribes (or unsubscribes) the socket to the proc connector's multicast group.
bool send_control(int sock, enum proc_cn_mcast_op op) {
  // nlmsghdr | cn_msg (ends in a flexible array) | op, laid out by hand.
  alignas(struct nlmsghdr) char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))];
  memset(buf, 0, sizeof buf);
  auto* nl = reinterpret_cast<struct nlmsghdr*>(buf);
  nl->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op));
  nl->nlmsg_type = NLMSG_DONE;
  auto* cn = reinterpret_cast<struct cn_msg*>(NLMSG_DATA(nl));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(enum proc_cn_mcast_op);
  memcpy(cn->data, &op, sizeof op);
  return send(sock, buf, nl->nlmsg_len, 0) == (ssize_t)nl->nlmsg_len;
}

void reader_loop(Watch* w) {
  alignas(struct nlmsghdr) char buf[16 * 1024];
  struct pollfd fds[2] = {{w->sock, POLLIN, 0}, {w->wake_fd, POLLIN, 0}};
  while (!w->stopping.load()) {
    int r = poll(fds, 2, -1);
    if (r < 0 && errno != EINTR) break;
    if (w->stopping.load()) break;
    if (r <= 0 || !(fds[0].revents & POLLIN)) continue;
    for (;;) {
      ssize_t len = recv(w->sock, buf, sizeof buf, MSG_DONTWAIT);
      if (len < 0 && errno == ENOBUFS) {  // the socket buffer overflowed: some execs were missed
        w->lost++;
        continue;
      }
      if (len <= 0) break;
      for (auto* nl = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(nl, (size_t)len); nl = NLMSG_NEXT(nl, len)) {
        if (nl->nlmsg_type != NLMSG_DONE) continue;
        auto* cn = reinterpret_cast<struct cn_msg*>(NLMSG_DATA(nl));
        if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
        auto* ev = reinterpret_cast<struct proc_event*>(cn->data);
        if (ev->what != proc_event::PROC_EVENT_EXEC) continue;
        w->events++;
        auto* e = new ExecEvent{ev->event_data.exec.process_tgid, (uint64_t)ev->timestamp_ns};
        if (napi_call_threadsafe_function(w->tsfn, e, napi_tsfn_nonblocking) != napi_ok) delete e;
      }
    }
  }
}

void call_js(napi_env env, napi_value callback, void*, void* data) {
  auto* e = static_cast<ExecEvent*>(data);
  if (env != nullptr) {
    napi_value obj, x, undefined, result;
    napi_create_object(env, &obj);
    napi_create_int32(env, e->pid, &x);
    napi_set_named_property(env, obj, "pid", x);
    napi_create_bigint_uint64(env, e->timestamp_ns, &x);
    napi_set_named_property(env, obj, "timestampNs", x);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 1, &obj, &result);
  }
  delete e;
}

void close_watch(Watch* w) {
  if (w->closed) return;
  w->closed = true;
  w->stopping.store(true);
  uint64_t one = 1;
  if (write(w->wake_fd, &one, sizeof one) < 0) { /* the reader also ends when the socket closes */ }
  if (w->reader.joinable()) w->reader.join();
  send_control(w->sock, PROC_CN_MCAST_IGNORE);
  close(w->sock);
  close(w->wake_fd);
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
}

void finalize_watch(napi_env, void* data, void*) {
  auto* w = static_cast<Watch*>(data);
  close_watch(w);
  delete w;
}

Watch* get_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void* p = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p) {
    napi_throw_type_error(env, nullptr, "vigil_procwatch: not a watch handle");
    return nullptr;
  }
  return static_cast<Watch*>(p);
}

// open(onExec) -> handle
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, nullptr, "open(onExec)");
    return nullptr;
  }
  int sock = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (sock < 0) return throw_errno(env, "socket(NETLINK_CONNECTOR)", errno);
  int size = 4 * 1024 * 1024;  // room for bursts of execs while JS is busy
  setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof addr);
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;
  if (bind(sock, (struct sockaddr*)&addr, sizeof addr) != 0) {
    int err = errno;
    close(sock);
    return throw_errno(env, "bind(proc connector)", err);
  }
  if (!send_control(sock, PROC_CN_MCAST_LISTEN)) {
    int err = errno;
    close(sock);
    return throw_errno(env, "proc connector listen", err);
  }
  auto* w = new Watch();
  w->sock = sock;
  w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->wake_fd < 0) {
    int err = errno;
    close(sock);
    delete w;
    return throw_errno(env, "eventfd", err);
  }
  napi_value name, handle;
  napi_create_string_utf8(env, "vigil-procwatch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, nullptr, nullptr, nullptr, call_js, &w->tsfn) != napi_ok) {
    close(sock);
    close(w->wake_fd);
    delete w;
    napi_throw_error(env, nullptr, "vigil_procwatch: cannot create the event queue");
    return nullptr;
  }
  w->reader = std::thread(reader_loop, w);
  napi_create_external(env, w, finalize_watch, nullptr, &handle);
  return handle;
}

napi_value Close(napi_env env, napi_callback_info info) {
  Watch* w = get_watch(env, info);
  if (w) close_watch(w);
  return nullptr;
}

napi_value Stats(napi_env env, napi_callback_info info) {
  Watch* w = get_watch(env, info);
  if (!w) return nullptr;
  napi_value obj, x;
  napi_create_object(env, &obj);
  napi_create_double(env, (double)w->events.load(), &x);
  napi_set_named_property(env, obj, "events", x);
  napi_create_double(env, (double)w->lost.load(), &x);
  napi_set_named_property(env, obj, "overflows", x);
  return obj;
}

// Start time (clock ticks since boot, field 22) from /proc/PID/stat; 0 if unreadable.
uint64_t start_ticks(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  char* p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');  // p: the space before `field`
  return p ? strtoull(p + 1, nullptr, 10) : 0;
}

// killIfSame(pid, startTicks: bigint, dev: bigint, ino: bigint) -> 'killed' | 'gone' | 'changed' | 'denied'
napi_value KillIfSame(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t pid = 0;
  uint64_t ticks = 0, dev = 0, ino = 0;
  bool lossless;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 4 || napi_get_value_int32(env, argv[0], &pid) != napi_ok ||
      napi_get_value_bigint_uint64(env, argv[1], &ticks, &lossless) != napi_ok || napi_get_value_bigint_uint64(env, argv[2], &dev, &lossless) != napi_ok ||
      napi_get_value_bigint_uint64(env, argv[3], &ino, &lossless) != napi_ok || pid <= 1) {
    napi_throw_type_error(env, nullptr, "killIfSame(pid > 1, startTicks, dev, ino)");
    return nullptr;
  }
  const char* outcome = "killed";
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    outcome = errno == ESRCH ? "gone" : "denied";
  } else {
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
    struct stat st;
    if (start_ticks(pid) != ticks || stat(exe, &st) != 0 || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino) {
      outcome = "changed";  // another process now, or it exec'd something else since
    } else if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) != 0) {
      outcome = errno == ESRCH ? "gone" : "denied";
    }
    close(pidfd);
  }
  napi_value result;
  napi_create_string_utf8(env, outcome, NAPI_AUTO_LENGTH, &result);
  return result;
}

napi_value clock_ns(napi_env env, clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  napi_value result;
  napi_create_bigint_uint64(env, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, &result);
  return result;
}
napi_value MonotonicNs(napi_env env, napi_callback_info) { return clock_ns(env, CLOCK_MONOTONIC); }
napi_value BootTimeNs(napi_env env, napi_callback_info) { return clock_ns(env, CLOCK_BOOTTIME); }

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"killIfSame", nullptr, KillIfSame, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"monotonicNs", nullptr, MonotonicNs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bootTimeNs", nullptr, BootTimeNs, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
