#include "test_support.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace zmesh::test {

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own descriptor
}

long rss_kib() {
  return rss_kib(getpid());
}

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 16, '\n');
  }
  return 0;
}

ChildProcess::ChildProcess(const std::string& path, const std::vector<std::string>& args)
    : ChildProcess(path, args, ChildOptions{}) {}

ChildProcess::ChildProcess(const std::string& path, const std::vector<std::string>& args,
                           const ChildOptions& options) {
  // Both ends are close-on-exec; dup2 gives the child its copies without the flag.
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (options.capture_stderr && pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  if (options.capture_stderr) posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::vector<std::string> argv_s{path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  std::vector<char*> envp;
  if (options.environment) {
    env_s = *options.environment;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  const int rc = posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(),
                             options.environment ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  out_.fd = out[0];
  if (options.capture_stderr) {
    close(err[1]);
    err_.fd = err[0];
  }
  if (rc != 0) {
    close(out_.fd);
    if (err_.fd >= 0) close(err_.fd);
    throw std::runtime_error("cannot spawn " + path);
  }
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (out_.fd >= 0) close(out_.fd);
  if (err_.fd >= 0) close(err_.fd);
}

ChildProcess::Pipe& ChildProcess::pipe_for(Stream stream) {
  if (stream == Stream::out) return out_;
  if (err_.fd < 0) throw std::logic_error("ChildProcess: stderr not captured (capture_stderr)");
  return err_;
}

bool ChildProcess::fill(Pipe& p, std::chrono::steady_clock::time_point deadline) {
  while (!p.eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{p.fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(p.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      p.eof = true;
      return false;
    }
    p.buffer.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  return false;
}

std::string ChildProcess::read_line(std::chrono::milliseconds timeout) {
  return read_line(Stream::out, timeout);
}

std::string ChildProcess::read_line(Stream stream, std::chrono::milliseconds timeout) {
  Pipe& p = pipe_for(stream);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = p.buffer.find('\n'); nl != std::string::npos) {
      std::string line = p.buffer.substr(0, nl);
      p.buffer.erase(0, nl + 1);
      return line;
    }
    if (!fill(p, deadline)) return {};
  }
}

std::string ChildProcess::read_all(Stream stream, std::chrono::milliseconds timeout) {
  Pipe& p = pipe_for(stream);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(p, deadline)) {
  }
  std::string all = std::move(p.buffer);
  p.buffer.clear();
  return all;
}

void ChildProcess::signal(int sig) {
  if (!reaped_ && pid_ > 0) kill(pid_, sig);
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

std::string helper_path(const std::string& name) {
  return std::string(ZMESH_TEST_HELPER_DIR) + "/" + name;
}

}  // namespace zmesh::test
