#include "bench_runs.hpp"

#include <cstring>
#include <thread>

namespace zmesh::cli {
namespace {

constexpr const char* kTopicPrefix = "zmesh-bench/";

double seconds_between(BenchClock::time_point a, BenchClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::uint64_t ns_since_epoch(BenchClock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

bool quota_met(const BenchQuota& q, std::uint64_t done, const std::atomic<bool>& stop) {
  if (stop.load()) return true;
  if (q.count != 0) return done >= q.count;
  return BenchClock::now() >= q.end;
}

}  // namespace

// ----------------------------------------------------------------- requester

BenchRequester::BenchRequester(std::size_t index, PeerOptions options)
    : index_(index), peer_(std::move(options)) {
  peer_.start();
}

BenchRequester::~BenchRequester() {
  peer_.stop();
}

void BenchRequester::connect(const std::string& endpoint, std::chrono::milliseconds timeout) {
  auto f = peer_.connect(endpoint);
  if (f.wait_for(timeout) != std::future_status::ready) {
    throw Error(errc::timeout, "connecting to '" + endpoint + "' timed out");
  }
  to_ = f.get();
}

void BenchRequester::on_done(std::error_code ec, const Response& r, BenchClock::time_point sent) {
  const auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(BenchClock::now() - sent).count());
  std::lock_guard lock(mu_);
  if (ec) {
    ++errors_;
    if (first_error_.empty()) first_error_ = r.payload.empty() ? ec.message() : r.payload;
  } else {
    ++ok_;
    latency_.record(ns);
  }
  --in_flight_;
  completed_.fetch_add(1, std::memory_order_relaxed);
  cv_.notify_one();  // under the lock: run() may return, and *this go, once it is released
}

void BenchRequester::run(const std::string& type, const std::string& payload, std::size_t window,
                         const BenchQuota& quota, BenchClock::time_point start,
                         const std::atomic<bool>& stop) {
  std::uint64_t issued = 0;
  while (!quota_met(quota, issued, stop)) {
    {
      std::unique_lock lock(mu_);
      // Woken by a completion; the timeout only lets a --duration end or a signal in.
      if (!cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return in_flight_ < window; })) {
        continue;
      }
      ++in_flight_;
    }
    ++issued;
    const auto sent = BenchClock::now();
    try {
      // On the engine thread as the reply is read (short: a count, a histogram bucket, a
      // notify): no hop to a worker in what is measured, as with a future.
      peer_.request(
          to_, type, payload, {},
          [this, sent](std::error_code ec, const Response& r) { on_done(ec, r, sent); },
          CallbackOptions{.run_inline = true});
    } catch (const Error& e) {
      // Refused at the call (queue_full after send_timeout, shutting_down): no callback.
      on_done(e.code(), Response{.payload = e.what()}, sent);
    }
  }
  std::unique_lock lock(mu_);
  // Every request completes exactly once (reply, error, its timeout, or stop()).
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  seconds_ = seconds_between(start, BenchClock::now());
}

BenchResult BenchRequester::result() {
  BenchResult r;
  r.role = "client";
  r.index = index_;
  r.seconds = seconds_;
  std::lock_guard lock(mu_);
  r.messages = ok_;
  r.errors = errors_;
  r.latency = latency_;
  r.first_error = first_error_;
  return r;
}

// ----------------------------------------------------------------- publisher

BenchPublisher::BenchPublisher(std::size_t index, PeerOptions options)
    : index_(index), peer_(std::move(options)) {
  peer_.start();
}

BenchPublisher::~BenchPublisher() {
  peer_.stop();
}

std::string BenchPublisher::topic() const {
  return kTopicPrefix + std::to_string(index_);
}

void BenchPublisher::run(std::size_t size, double rate, const BenchQuota& quota,
                         BenchClock::time_point start, const std::atomic<bool>& stop) {
  const std::string t = topic();
  std::string payload(size, 'b');
  std::uint64_t done = 0;
  while (!quota_met(quota, done, stop)) {
    if (rate > 0) {
      const auto due = start + std::chrono::duration_cast<BenchClock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(done) / rate));
      std::this_thread::sleep_until(due);
    }
    const std::uint64_t now_ns = ns_since_epoch(BenchClock::now());
    std::memcpy(payload.data(), &now_ns, sizeof now_ns);
    ++done;
    try {
      peer_.publish(t, "Bench", payload);
      published_.fetch_add(1, std::memory_order_relaxed);
    } catch (const Error& e) {
      ++errors_;
      if (first_error_.empty()) first_error_ = e.what();
    }
  }
  seconds_ = seconds_between(start, BenchClock::now());
}

BenchResult BenchPublisher::result() const {
  BenchResult r;
  r.role = "publisher";
  r.index = index_;
  r.messages = published_.load();
  r.errors = errors_;
  r.seconds = seconds_;
  r.first_error = first_error_;
  return r;
}

// ----------------------------------------------------------------- subscriber

BenchSubscriber::BenchSubscriber(std::size_t index, PeerOptions options)
    : index_(index), peer_(std::move(options)) {
  subscription_ = peer_.subscribe(kTopicPrefix, [this](const Message& m) { on_broadcast(m); });
  peer_.start();
}

BenchSubscriber::~BenchSubscriber() {
  subscription_.reset();
  peer_.stop();
}

void BenchSubscriber::follow(const std::string& pub_endpoint) {
  peer_.subscribe_to(pub_endpoint);
}

void BenchSubscriber::sync(std::chrono::milliseconds timeout) {
  peer_.sync_subscriptions(timeout).get();
}

void BenchSubscriber::on_broadcast(const Message& m) {
  const auto now = BenchClock::now();
  std::uint64_t sent_ns = 0;
  const std::string_view bytes = m.text();
  if (bytes.size() >= sizeof sent_ns) std::memcpy(&sent_ns, bytes.data(), sizeof sent_ns);
  const std::uint64_t now_ns = ns_since_epoch(now);
  std::lock_guard lock(mu_);
  if (sent_ns != 0 && sent_ns <= now_ns) latency_.record(now_ns - sent_ns);
  last_ = now;
  received_.fetch_add(1, std::memory_order_relaxed);
}

BenchResult BenchSubscriber::result(std::uint64_t expected, BenchClock::time_point start) {
  BenchResult r;
  r.role = "subscriber";
  r.index = index_;
  std::lock_guard lock(mu_);
  r.messages = received_.load();
  r.lost = expected > r.messages ? expected - r.messages : 0;
  r.seconds = last_ == BenchClock::time_point{} ? 0 : seconds_between(start, last_);
  r.latency = latency_;
  return r;
}

}  // namespace zmesh::cli
