// Vigil's Linux pre-exec gate: fanotify FAN_OPEN_EXEC_PERM events handed to JavaScript.
//
// Safety rules this file exists to keep (see docs/application-control.md):
//  * Every permission event is answered. A reader thread owns a deadline per event; if JS has
//    not answered when it passes, the thread answers with the configured default (fail-open or
//    fail-closed). A stalled or busy JS thread therefore delays an exec by at most the deadline.
//  * The gate never waits on itself: events caused by this process (any of its threads; fanotify
//    reports the thread group id) are allowed at once, before JS is involved.
//  * Built-in allow rules (system directories, checked by path prefix AND device number) are
//    answered on the reader thread, so system binaries keep running even if JS is stalled and the
//    gate is fail-closed.
//  * JS may mark an allow as cacheable: later execs of the same file identity (device, inode,
//    size, ctime: any write, rename or chmod changes ctime) are then allowed on the reader
//    thread with no JS round trip. clearCache() (on every policy change) empties it; answers to
//    events that arrived before the last clearCache() are never cached.
//  * Closing the fanotify fd (or this process dying) makes the kernel drop every mark and allow
//    every event still waiting; close() answers the events it holds first.
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// dev + ino + size + ctime name the content; the mount id (STATX_MNT_ID_UNIQUE where the kernel
// has it: never reused until reboot) makes a file system image that reproduces all of those
// after a remount a different identity.
struct Identity {
  uint64_t dev, ino;
  int64_t size, ctime_sec, ctime_nsec;
  uint64_t mnt_id;
  bool operator==(const Identity& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && ctime_sec == o.ctime_sec && ctime_nsec == o.ctime_nsec && mnt_id == o.mnt_id;
  }
};

struct IdentityHash {
  size_t operator()(const Identity& i) const {
    uint64_t h = i.dev * 0x9e3779b97f4a7c15ull ^ i.ino;
    h = h * 0x9e3779b97f4a7c15ull ^ (uint64_t)i.size;
    h = h * 0x9e3779b97f4a7c15ull ^ (uint64_t)i.ctime_sec;
    h = h * 0x9e3779b97f4a7c15ull ^ (uint64_t)i.ctime_nsec;
    return (size_t)(h * 0x9e3779b97f4a7c15ull ^ i.mnt_id);
  }
};

struct PendingEntry {
  int fd;
  uint64_t deadline;
  bool known;  // fstat succeeded, so `identity` can be cached
  Identity identity;
  uint64_t generation;
};

const size_t kAllowCacheMax = 65536;

struct AllowPrefix {
  std::string dir;  // no trailing slash
  dev_t dev;
};

// What the reader thread hands to JS: one exec to decide, or a note that the deadline answered.
struct Delivery {
  enum Kind { kExec, kTimeout } kind;
  uint64_t id = 0;
  int32_t pid = 0;
  int fd = -1;
  std::string path;
  uint64_t dev = 0, ino = 0;
  int64_t size = 0, ctime_sec = 0, ctime_nsec = 0;
  uint64_t mnt_id = 0;
  bool mnt_id_unique = false;
  bool allowed = false;  // kTimeout: the default that was applied
};

// statx mask bits (linux/stat.h; STATX_MNT_ID_UNIQUE is newer than Debian 12's headers).
const unsigned kStatxMntId = 0x1000U, kStatxMntIdUnique = 0x4000U;

struct Gate {
  int fan_fd = -1;
  int wake_fd = -1;
  uint64_t deadline_ns = 250ull * 1000000ull;
  bool default_allow = true;
  pid_t self = 0;
  std::vector<AllowPrefix> prefixes;
  napi_threadsafe_function tsfn = nullptr;
  std::thread reader;
  std::atomic<bool> stopping{false};
  bool closed = false;

  std::mutex mu;  // guards pending, next_id, allow_cache and generation
  std::unordered_map<uint64_t, PendingEntry> pending;
  uint64_t next_id = 1;
  std::unordered_map<Identity, bool, IdentityHash> allow_cache;
  uint64_t generation = 0;

  std::atomic<uint64_t> events{0}, self_allowed{0}, prefix_allowed{0}, answered_js{0}, timed_out{0},
      overflows{0}, response_errors{0}, cache_allowed{0}, ignore_marks{0};
};

void respond(Gate* g, int fd, bool allow) {
  struct fanotify_response r;
  r.fd = fd;
  r.response = allow ? FAN_ALLOW : FAN_DENY;
  if (write(g->fan_fd, &r, sizeof r) != (ssize_t)sizeof r) g->response_errors++;
  close(fd);
}

bool prefix_allows(const Gate* g, const std::string& path, dev_t dev) {
  for (const auto& p : g->prefixes) {
    if (p.dev != dev) continue;
    if (path == p.dir) return true;  // a single-file rule (the agent's own node binary)
    if (path.size() > p.dir.size() && path.compare(0, p.dir.size(), p.dir) == 0 && path[p.dir.size()] == '/') return true;
  }
  return false;
}

// Inode marks are only ever ignore marks here (the gate marks mounts and file systems), so
// flushing the inode marks removes exactly the allowed files' ignore marks.
void flush_ignore_marks(Gate* g) { fanotify_mark(g->fan_fd, FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr); }

void handle_event(Gate* g, const struct fanotify_event_metadata* m) {
  if (m->mask & FAN_Q_OVERFLOW) {
    g->overflows++;
    return;
  }
  if (m->fd < 0) return;
  if (!(m->mask & FAN_OPEN_EXEC_PERM)) {  // not ours to answer; nothing waits on it
    close(m->fd);
    return;
  }
  g->events++;
  if (m->pid == g->self) {
    g->self_allowed++;
    respond(g, m->fd, true);
    return;
  }
  // One statx gives the identity and the mount; an allowed identity is answered before anything
  // else is looked up (no path, no allocation): this is the path almost every exec takes.
  struct statx sx;
  bool known = statx(m->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | kStatxMntId | kStatxMntIdUnique, &sx) == 0 &&
               (sx.stx_mask & (STATX_INO | STATX_SIZE | STATX_CTIME)) == (STATX_INO | STATX_SIZE | STATX_CTIME);
  Identity identity{};
  uint64_t mnt_id = 0;
  bool mnt_id_unique = false;
  if (known) {
    if (sx.stx_mask & kStatxMntIdUnique) {
      mnt_id = sx.stx_mnt_id;
      mnt_id_unique = true;
    } else if (sx.stx_mask & kStatxMntId) {
      mnt_id = sx.stx_mnt_id;
    }
    identity = {(uint64_t)makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino, (int64_t)sx.stx_size,
                (int64_t)sx.stx_ctime.tv_sec, (int64_t)sx.stx_ctime.tv_nsec, mnt_id};
    bool cached;
    {
      std::lock_guard<std::mutex> lock(g->mu);
      cached = g->allow_cache.count(identity) > 0;
    }
    if (cached) {
      g->cache_allowed++;
      respond(g, m->fd, true);
      return;
    }
  }
  auto* d = new Delivery();
  d->kind = Delivery::kExec;
  d->pid = m->pid;
  d->fd = m->fd;
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n > 0) d->path.assign(target, (size_t)n);
  if (known) {
    d->dev = identity.dev;
    d->ino = identity.ino;
    d->size = identity.size;
    d->ctime_sec = identity.ctime_sec;
    d->ctime_nsec = identity.ctime_nsec;
    d->mnt_id = mnt_id;
    d->mnt_id_unique = mnt_id_unique;
    // The path is as the executing process sees it: a private bind mount in a user namespace can
    // make any file appear under /usr. Only trust it if the same path here is the same file.
    struct stat here;
    if (n > 0 && prefix_allows(g, d->path, identity.dev) && stat(d->path.c_str(), &here) == 0 && (uint64_t)here.st_dev == identity.dev &&
        here.st_ino == identity.ino) {
      g->prefix_allowed++;
      respond(g, m->fd, true);
      delete d;
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(g->mu);
    d->id = g->next_id++;
    g->pending[d->id] = {m->fd, now_ns() + g->deadline_ns, known, identity, g->generation};
  }
  // Unbounded queue + nonblocking: this call never waits for the JS thread.
  if (napi_call_threadsafe_function(g->tsfn, d, napi_tsfn_nonblocking) != napi_ok) delete d;  // the deadline still answers it
}

// Answers every event whose deadline has passed; returns ms until the next deadline (-1: none).
int expire(Gate* g) {
  std::vector<std::pair<uint64_t, int>> due;
  uint64_t now = now_ns(), next = 0;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    for (auto it = g->pending.begin(); it != g->pending.end();) {
      if (it->second.deadline <= now) {
        due.push_back({it->first, it->second.fd});
        it = g->pending.erase(it);
      } else {
        if (!next || it->second.deadline < next) next = it->second.deadline;
        ++it;
      }
    }
  }
  for (auto& [id, fd] : due) {
    respond(g, fd, g->default_allow);
    g->timed_out++;
    auto* d = new Delivery();
    d->kind = Delivery::kTimeout;
    d->id = id;
    d->allowed = g->default_allow;
    if (napi_call_threadsafe_function(g->tsfn, d, napi_tsfn_nonblocking) != napi_ok) delete d;
  }
  if (!next) return -1;
  return (int)((next - now + 999999ull) / 1000000ull);
}

// The reader cannot go on (poll failed, or the kernel speaks a metadata version we do not
// know). Nothing may be left waiting: remove every mark so no new permission events arise,
// answer what is pending and what is still queued with the configured default, and say why.
void fail_reader(Gate* g, const char* why) {
  fprintf(stderr, "vigil_fanotify: the gate's reader stopped (%s); removing all marks and answering queued events with the default\n", why);
  fanotify_mark(g->fan_fd, FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, nullptr);
  fanotify_mark(g->fan_fd, FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, nullptr);
  fanotify_mark(g->fan_fd, FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr);
  std::vector<int> pending_fds;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    for (auto& [id, entry] : g->pending) pending_fds.push_back(entry.fd);
    g->pending.clear();
  }
  for (int fd : pending_fds) respond(g, fd, g->default_allow);
  alignas(struct fanotify_event_metadata) char buf[16 * 1024];
  for (int rounds = 0; rounds < 1000; rounds++) {
    ssize_t len = read(g->fan_fd, buf, sizeof buf);
    if (len <= 0) break;
    auto* m = reinterpret_cast<struct fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
      if (m->fd >= 0) {
        if (m->mask & FAN_OPEN_EXEC_PERM) respond(g, m->fd, g->default_allow);
        else close(m->fd);
      }
    }
  }
}

void reader_loop(Gate* g) {
  alignas(struct fanotify_event_metadata) char buf[64 * 1024];
  struct pollfd fds[2] = {{g->fan_fd, POLLIN, 0}, {g->wake_fd, POLLIN, 0}};
  while (!g->stopping.load()) {
    int timeout = expire(g);
    int r = poll(fds, 2, timeout);
    if (r < 0 && errno != EINTR) return fail_reader(g, strerror(errno));
    if (g->stopping.load()) break;
    if (r > 0 && (fds[0].revents & POLLIN)) {
      for (;;) {
        ssize_t len = read(g->fan_fd, buf, sizeof buf);
        if (len <= 0) break;  // EAGAIN: drained
        auto* m = reinterpret_cast<struct fanotify_event_metadata*>(buf);
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
          if (m->vers != FANOTIFY_METADATA_VERSION) {
            if (m->fd >= 0) respond(g, m->fd, g->default_allow);
            return fail_reader(g, "unknown fanotify metadata version");
          }
          handle_event(g, m);
        }
        // A steady stream of events must not starve the deadlines of those already waiting.
        expire(g);
      }
    }
  }
}

// ---- JS glue -----------------------------------------------------------------------------

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, nullptr, "vigil_fanotify: N-API call failed"); \
      return nullptr;                                                     \
    }                                                                     \
  } while (0)

napi_value throw_errno(napi_env env, const char* what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_throw(env, error);
  return nullptr;
}

void set_num(napi_env env, napi_value obj, const char* key, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}

void call_js(napi_env env, napi_value callback, void* /*context*/, void* data) {
  auto* d = static_cast<Delivery*>(data);
  if (env != nullptr) {
    napi_value obj, x, undefined;
    napi_create_object(env, &obj);
    napi_create_string_utf8(env, d->kind == Delivery::kExec ? "exec" : "timeout", NAPI_AUTO_LENGTH, &x);
    napi_set_named_property(env, obj, "type", x);
    set_num(env, obj, "id", (double)d->id);
    if (d->kind == Delivery::kExec) {
      set_num(env, obj, "pid", d->pid);
      set_num(env, obj, "fd", d->fd);
      napi_create_string_utf8(env, d->path.c_str(), d->path.size(), &x);
      napi_set_named_property(env, obj, "path", x);
      // Device and inode as BigInt: overlayfs and XFS inode numbers can exceed 2^53.
      napi_create_bigint_uint64(env, d->dev, &x);
      napi_set_named_property(env, obj, "dev", x);
      napi_create_bigint_uint64(env, d->ino, &x);
      napi_set_named_property(env, obj, "ino", x);
      set_num(env, obj, "size", (double)d->size);
      set_num(env, obj, "ctimeSec", (double)d->ctime_sec);
      set_num(env, obj, "ctimeNsec", (double)d->ctime_nsec);
      napi_create_bigint_uint64(env, d->mnt_id, &x);
      napi_set_named_property(env, obj, "mountId", x);
      napi_get_boolean(env, d->mnt_id_unique, &x);
      napi_set_named_property(env, obj, "mountIdUnique", x);
    } else {
      napi_get_boolean(env, d->allowed, &x);
      napi_set_named_property(env, obj, "allowed", x);
    }
    napi_get_undefined(env, &undefined);
    napi_value result;
    // An exception in the callback is reported by Node; the deadline still answers the event.
    napi_call_function(env, undefined, callback, 1, &obj, &result);
  }
  delete d;
}

Gate* get_gate(napi_env env, napi_value v) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == nullptr) {
    napi_throw_type_error(env, nullptr, "vigil_fanotify: not a gate handle");
    return nullptr;
  }
  return static_cast<Gate*>(p);
}

// The common preamble of every function taking a gate handle first: reads up to `max` arguments
// into argv (N-API fills missing ones with undefined), requires `min` of them, and returns the
// gate (nullptr with a JS exception pending).
Gate* gate_args(napi_env env, napi_callback_info info, size_t min, size_t max, napi_value* argv, const char* usage) {
  size_t argc = max;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < min) {
    napi_throw_type_error(env, nullptr, usage);
    return nullptr;
  }
  return get_gate(env, argv[0]);
}

void close_gate(Gate* g) {
  if (g->closed) return;
  g->closed = true;
  g->stopping.store(true);
  uint64_t one = 1;
  if (write(g->wake_fd, &one, sizeof one) < 0) { /* the poll timeout still ends the loop */ }
  if (g->reader.joinable()) g->reader.join();
  {
    std::lock_guard<std::mutex> lock(g->mu);
    for (auto& [id, entry] : g->pending) respond(g, entry.fd, g->default_allow);
    g->pending.clear();
  }
  close(g->fan_fd);  // drops every mark; the kernel allows anything still queued
  close(g->wake_fd);
  napi_release_threadsafe_function(g->tsfn, napi_tsfn_abort);
}

void finalize_gate(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* g = static_cast<Gate*>(data);
  close_gate(g);
  delete g;
}

bool get_named(napi_env env, napi_value obj, const char* key, napi_value* out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  return napi_get_named_property(env, obj, key, out) == napi_ok;
}

// open({ deadlineMs, defaultAllow, allowPrefixes: [{ dir, dev }] }, onEvent) -> handle
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  napi_valuetype t0, t1;
  CHECK(napi_typeof(env, argv[0], &t0));
  CHECK(napi_typeof(env, argv[1], &t1));
  if (argc < 2 || t0 != napi_object || t1 != napi_function) {
    napi_throw_type_error(env, nullptr, "open(options, onEvent)");
    return nullptr;
  }
  auto* g = new Gate();
  napi_value v;
  if (get_named(env, argv[0], "deadlineMs", &v)) {
    double ms = 0;
    CHECK(napi_get_value_double(env, v, &ms));
    if (!(ms >= 1 && ms <= 60000)) {
      delete g;
      napi_throw_range_error(env, nullptr, "deadlineMs must be between 1 and 60000");
      return nullptr;
    }
    g->deadline_ns = (uint64_t)(ms * 1000000.0);
  }
  if (get_named(env, argv[0], "defaultAllow", &v)) CHECK(napi_get_value_bool(env, v, &g->default_allow));
  if (get_named(env, argv[0], "allowPrefixes", &v)) {
    uint32_t len = 0;
    CHECK(napi_get_array_length(env, v, &len));
    for (uint32_t i = 0; i < len; i++) {
      napi_value item, dir, dev;
      CHECK(napi_get_element(env, v, i, &item));
      if (!get_named(env, item, "dir", &dir) || !get_named(env, item, "dev", &dev)) continue;
      char buf[PATH_MAX];
      size_t n = 0;
      uint64_t devv = 0;
      bool lossless = false;
      CHECK(napi_get_value_string_utf8(env, dir, buf, sizeof buf, &n));
      CHECK(napi_get_value_bigint_uint64(env, dev, &devv, &lossless));
      while (n > 1 && buf[n - 1] == '/') n--;
      g->prefixes.push_back({std::string(buf, n == 1 ? 0 : n), (dev_t)devv});
    }
  }
  g->self = getpid();
  // O_CLOEXEC: event fds must never leak into programs the agent starts.
  g->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (g->fan_fd < 0) {
    int err = errno;
    delete g;
    return throw_errno(env, "fanotify_init", err);
  }
  g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g->wake_fd < 0) {
    int err = errno;
    close(g->fan_fd);
    delete g;
    return throw_errno(env, "eventfd", err);
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "vigil-exec-gate", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[1], nullptr, name, 0, 1, nullptr, nullptr, nullptr, call_js, &g->tsfn));
  g->reader = std::thread(reader_loop, g);
  napi_value handle;
  CHECK(napi_create_external(env, g, finalize_gate, nullptr, &handle));
  return handle;
}

// mark(handle, path, kind: 'mount' | 'filesystem')
napi_value Mark(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Gate* g = gate_args(env, info, 3, 3, argv, "mark(handle, path, kind)");
  if (!g) return nullptr;
  if (g->closed) {
    napi_throw_error(env, nullptr, "gate is closed");
    return nullptr;
  }
  char path[PATH_MAX], kind[32];
  size_t n;
  CHECK(napi_get_value_string_utf8(env, argv[1], path, sizeof path, &n));
  CHECK(napi_get_value_string_utf8(env, argv[2], kind, sizeof kind, &n));
  unsigned int flags = FAN_MARK_ADD;
  if (strcmp(kind, "mount") == 0) {
    flags |= FAN_MARK_MOUNT;
  } else if (strcmp(kind, "filesystem") == 0) {
    flags |= FAN_MARK_FILESYSTEM;
  } else {
    napi_throw_type_error(env, nullptr, "kind must be 'mount' or 'filesystem'");
    return nullptr;
  }
  if (fanotify_mark(g->fan_fd, flags, FAN_OPEN_EXEC_PERM, AT_FDCWD, path) != 0) return throw_errno(env, "fanotify_mark", errno);
  return nullptr;
}

// mountId(path) -> BigInt: the id of the mount at path (unique until reboot where the kernel has
// STATX_MNT_ID_UNIQUE), so a file system unmounted and mounted again at the same place — which
// mountinfo may show with the same, reused id — is seen as new and marked again. 0n if unknown.
napi_value MountId(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[PATH_MAX];
  size_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) {
    napi_throw_type_error(env, nullptr, "mountId(path)");
    return nullptr;
  }
  struct statx sx;
  uint64_t id = 0;
  if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, kStatxMntId | kStatxMntIdUnique, &sx) == 0 && (sx.stx_mask & (kStatxMntId | kStatxMntIdUnique))) id = sx.stx_mnt_id;
  napi_value result;
  napi_create_bigint_uint64(env, id, &result);
  return result;
}

// respond(handle, id, allow, cacheable) -> true if this answer reached the kernel, false if the
// deadline (or close) had already answered the event.
napi_value Respond(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Gate* g = gate_args(env, info, 3, 4, argv, "respond(handle, id, allow, cacheable)");
  if (!g) return nullptr;
  double idd = 0;
  bool allow = false, cacheable = false;
  CHECK(napi_get_value_double(env, argv[1], &idd));
  CHECK(napi_get_value_bool(env, argv[2], &allow));
  napi_valuetype t3;
  CHECK(napi_typeof(env, argv[3], &t3));
  if (t3 == napi_boolean) CHECK(napi_get_value_bool(env, argv[3], &cacheable));
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    auto it = g->pending.find((uint64_t)idd);
    if (it != g->pending.end()) {
      const PendingEntry& e = it->second;
      fd = e.fd;
      if (allow && cacheable && e.known && e.generation == g->generation) {
        if (g->allow_cache.size() >= kAllowCacheMax) {  // rare; refills from JS's cache
          g->allow_cache.clear();
          flush_ignore_marks(g);
        }
        g->allow_cache[e.identity] = true;
        // From now on the kernel itself lets this file run without asking: an ignore mark on its
        // inode, which the kernel drops by itself when the file is modified (no SURV_MODIFY), and
        // which every policy change flushes (under this lock, so none outlives its policy).
        if (fanotify_mark(g->fan_fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN_EXEC_PERM, e.fd, nullptr) == 0) g->ignore_marks++;
      }
      g->pending.erase(it);
    }
  }
  if (fd >= 0) {
    respond(g, fd, allow);
    g->answered_js++;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, fd >= 0, &result));
  return result;
}

napi_value Stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Gate* g = gate_args(env, info, 1, 1, argv, "stats(handle)");
  if (!g) return nullptr;
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  set_num(env, obj, "events", (double)g->events.load());
  set_num(env, obj, "selfAllowed", (double)g->self_allowed.load());
  set_num(env, obj, "prefixAllowed", (double)g->prefix_allowed.load());
  set_num(env, obj, "answeredByJs", (double)g->answered_js.load());
  set_num(env, obj, "timedOut", (double)g->timed_out.load());
  set_num(env, obj, "overflows", (double)g->overflows.load());
  set_num(env, obj, "responseErrors", (double)g->response_errors.load());
  set_num(env, obj, "cacheAllowed", (double)g->cache_allowed.load());
  set_num(env, obj, "ignoreMarks", (double)g->ignore_marks.load());
  size_t pending, cached;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    pending = g->pending.size();
    cached = g->allow_cache.size();
  }
  set_num(env, obj, "pending", (double)pending);
  set_num(env, obj, "allowCacheSize", (double)cached);
  return obj;
}

// clearCache(handle): forget every cached allow (the policy changed).
napi_value ClearCache(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Gate* g = gate_args(env, info, 1, 1, argv, "clearCache(handle)");
  if (!g) return nullptr;
  std::lock_guard<std::mutex> lock(g->mu);
  g->allow_cache.clear();
  flush_ignore_marks(g);
  g->generation++;
  return nullptr;
}

napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Gate* g = gate_args(env, info, 1, 1, argv, "close(handle)");
  if (g) close_gate(g);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"mark", nullptr, Mark, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"mountId", nullptr, MountId, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"respond", nullptr, Respond, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clearCache", nullptr, ClearCache, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
