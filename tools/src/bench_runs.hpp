// The parties of `zmesh bench`: request clients, publishers and subscribers. Each owns its
// own Peer (a connection of its own, like a separate process would have) and runs on a
// thread of its own; the main thread reads their running counts (atomics) for the
// progress line, and their results once they have finished (after the join).
//
// Latency. A client times each request from just before request() to its callback
// (which runs inline, on the client Peer's engine thread, as the reply is read). A
// subscriber's latency is one way: the publisher writes steady_clock::now() into the
// first 8 bytes of the payload, and the subscriber, in the same process, subtracts it
// from its own now() in its handler.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "latency_histogram.hpp"
#include "zmesh/peer.hpp"

namespace zmesh::cli {

using BenchClock = std::chrono::steady_clock;

/// What one party did.
struct BenchResult {
  std::string role;            ///< "client", "publisher", "subscriber"
  std::size_t index = 0;       ///< 0.. within its role
  std::uint64_t messages = 0;  ///< replies received / broadcasts published / received
  std::uint64_t errors = 0;    ///< requests or publishes that failed
  std::uint64_t lost = 0;      ///< subscriber: broadcasts published and never received
  double seconds = 0;          ///< from the common start to its last message
  LatencyHistogram latency;    ///< client: round trips; subscriber: one way; publisher: none
  std::string first_error;     ///< the first failure's text, "" when none
};

/// When a party stops: after `count` messages, or at `end` when count is 0; and in any
/// case once `stop` is set (a signal).
struct BenchQuota {
  std::uint64_t count = 0;
  BenchClock::time_point end{};
};

/// A requester keeping up to `window` requests in flight to one peer.
class BenchRequester {
 public:
  /// Builds and starts its client-only Peer. Throws zmesh::Error.
  BenchRequester(std::size_t index, PeerOptions options);
  BenchRequester(const BenchRequester&) = delete;
  BenchRequester& operator=(const BenchRequester&) = delete;
  ~BenchRequester();

  /// Connects to the responder; throws zmesh::Error (timeout: errc::timeout).
  void connect(const std::string& endpoint, std::chrono::milliseconds timeout);
  /// Sends requests until its quota is met, then waits for every one to complete. Runs
  /// on the caller's thread (one per requester); `start` is the common start time.
  void run(const std::string& type, const std::string& payload, std::size_t window,
           const BenchQuota& quota, BenchClock::time_point start, const std::atomic<bool>& stop);
  /// Requests completed so far, for the progress line (any thread).
  [[nodiscard]] std::uint64_t completed() const noexcept { return completed_.load(); }
  /// Its result; call after run() has returned (on the thread that joined it).
  [[nodiscard]] BenchResult result();

 private:
  void on_done(std::error_code ec, const Response& r, BenchClock::time_point sent);

  std::size_t index_;
  PeerId to_ = 0;
  double seconds_ = 0;  // run()'s thread only
  std::atomic<std::uint64_t> completed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;  // guarded by mu_
  std::uint64_t ok_ = 0;       // guarded by mu_
  std::uint64_t errors_ = 0;   // guarded by mu_
  std::string first_error_;    // guarded by mu_
  LatencyHistogram latency_;   // guarded by mu_
  Peer peer_;                  // last: stopped (its callbacks joined) before the state above goes
};

/// A publisher of `zmesh-bench/<index>`.
class BenchPublisher {
 public:
  BenchPublisher(std::size_t index, PeerOptions options);
  BenchPublisher(const BenchPublisher&) = delete;
  BenchPublisher& operator=(const BenchPublisher&) = delete;
  ~BenchPublisher();

  [[nodiscard]] std::string pub_endpoint() const { return peer_.pub_endpoint(); }
  [[nodiscard]] std::string topic() const;
  /// Publishes until its quota is met, at most `rate` a second (0 = as fast as it can).
  void run(std::size_t size, double rate, const BenchQuota& quota, BenchClock::time_point start,
           const std::atomic<bool>& stop);
  [[nodiscard]] std::uint64_t published() const noexcept { return published_.load(); }
  /// Its result; call after run() has returned.
  [[nodiscard]] BenchResult result() const;

 private:
  std::size_t index_;
  std::atomic<std::uint64_t> published_{0};
  std::uint64_t errors_ = 0;  // run()'s thread only
  double seconds_ = 0;        // run()'s thread only
  std::string first_error_;   // run()'s thread only
  Peer peer_;
};

/// A subscriber to every publisher's `zmesh-bench/` topics.
class BenchSubscriber {
 public:
  BenchSubscriber(std::size_t index, PeerOptions options);
  BenchSubscriber(const BenchSubscriber&) = delete;
  BenchSubscriber& operator=(const BenchSubscriber&) = delete;
  ~BenchSubscriber();

  /// Subscribes to `zmesh-bench/` at this publisher's PUB endpoint.
  void follow(const std::string& pub_endpoint);
  /// Waits until every subscription is in effect at every publisher followed; throws
  /// zmesh::Error(timeout) when they are not within `timeout`.
  void sync(std::chrono::milliseconds timeout);
  /// Broadcasts received so far (any thread).
  [[nodiscard]] std::uint64_t received() const noexcept { return received_.load(); }
  /// Its result, with `expected` broadcasts published in all; `start` is the common start.
  [[nodiscard]] BenchResult result(std::uint64_t expected, BenchClock::time_point start);

 private:
  void on_broadcast(const Message& m);

  std::size_t index_;
  std::atomic<std::uint64_t> received_{0};
  std::mutex mu_;
  LatencyHistogram latency_;       // guarded by mu_
  BenchClock::time_point last_{};  // guarded by mu_: when the last one arrived
  Peer peer_;                      // after the state its handler writes
  Registration subscription_;      // before peer_ goes: unsubscribes first
};

}  // namespace zmesh::cli
