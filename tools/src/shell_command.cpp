#include "shell_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace zmesh::cli {
namespace {

// Closes what it holds, whatever way the function leaves.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

void make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  read_end.fd = fds[0];
  write_end.fd = fds[1];
}

// Kills the process group and reaps the child: nothing outlives the request.
void kill_and_reap(pid_t pid) {
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

ShellResult run_shell(const std::string& command, std::string_view input,
                      std::chrono::steady_clock::time_point deadline,
                      const std::atomic<bool>& cancel, std::size_t max_output) {
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  make_pipe(in_r, in_w);
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, STDERR_FILENO);
  // zmesh blocks SIGINT/SIGTERM/SIGPIPE in every thread; the command gets the defaults,
  // and a group of its own so that killing it also kills what it started.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error(std::string("cannot run /bin/sh: ") + std::strerror(rc));
  in_r.reset();
  out_w.reset();
  err_w.reset();
  fcntl(in_w.fd, F_SETFL, O_NONBLOCK);

  ShellResult result;
  std::size_t written = 0;
  if (input.empty()) in_w.reset();
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    const auto now = std::chrono::steady_clock::now();
    if (cancel.load()) {
      kill_and_reap(pid);
      throw std::runtime_error("command stopped: zmesh reply is shutting down");
    }
    if (now >= deadline) {
      kill_and_reap(pid);
      throw std::runtime_error("command killed: still running after the request's deadline");
    }
    pollfd fds[3] = {{in_w.fd, POLLOUT, 0}, {out_r.fd, POLLIN, 0}, {err_r.fd, POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int wait_ms = static_cast<int>(std::min<long long>(left.count() + 1, 50));
    if (poll(fds, 3, wait_ms) < 0 && errno != EINTR) {
      kill_and_reap(pid);
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    if (in_w.fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = write(in_w.fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      // Done, or the command closed its stdin without reading it all: that is its call.
      if (written == input.size() || (n < 0 && errno != EAGAIN)) in_w.reset();
    }
    for (int i = 1; i <= 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      Fd& fd = i == 1 ? out_r : err_r;
      std::string& into = i == 1 ? result.out : result.err;
      char buf[16384];
      const ssize_t n = read(fd.fd, buf, sizeof buf);
      if (n <= 0) {
        if (n == 0 || errno != EINTR) fd.reset();
        continue;
      }
      into.append(buf, static_cast<std::size_t>(n));
      if (into.size() > max_output) {
        kill_and_reap(pid);
        throw std::runtime_error("command output is over " + std::to_string(max_output) + " bytes");
      }
    }
  }
  in_w.reset();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace zmesh::cli
