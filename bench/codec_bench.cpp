// Encode+decode cost of one message and the heap allocations it makes.
//   build/bench/bench_codec
// Counters: allocs/msg counts every operator new during the timed loop, divided by the
// number of messages; the ZeroMQ header frame itself is one malloc inside libzmq (not
// operator new) and is not in it.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include <benchmark/benchmark.h>

#include "zmesh/core/envelope_codec.hpp"

namespace {
std::atomic<long> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

zmesh::Header request_header() {
  zmesh::Header h;
  h.kind = zmesh::Kind::request;
  h.correlation_id = 1;
  h.type = "GetQuote";
  h.sender_id = 0x1122334455667788ULL;
  h.timestamp_us = 1'700'000'000'000'000ULL;
  h.deadline_unix_ms = 1'700'000'000'500ULL;
  return h;
}

void BM_EncodeHeader(benchmark::State& state) {
  zmesh::EnvelopeEncoder enc;
  zmesh::Header h = request_header();
  (void)enc.encode(h);  // warm the builder's buffer
  const long before = g_allocs.load();
  for (auto _ : state) {
    ++h.correlation_id;
    zmq::message_t frame = enc.encode(h);
    benchmark::DoNotOptimize(frame.data());
  }
  state.counters["allocs/msg"] =
      static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_EncodeHeader);

void BM_DecodeEnvelope(benchmark::State& state) {
  zmesh::EnvelopeEncoder enc;
  zmesh::EnvelopeDecoder dec;
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'p');
  zmesh::FrameSet frames;
  frames.push(zmq::message_t("\0id01", 5));
  frames.push(enc.encode(request_header()));
  frames.push(zmq::message_t(payload.data(), payload.size()));
  const long before = g_allocs.load();
  for (auto _ : state) {
    auto env = dec.decode(zmesh::Layout::router, frames);
    benchmark::DoNotOptimize(env.ok());
  }
  state.counters["allocs/msg"] =
      static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_DecodeEnvelope)->Arg(16)->Arg(1024);

// The whole path of one message: encode a header, put it with a payload in a frame set
// (moving the frames, as the engine does), decode it.
void BM_EncodeDecodeRoundTrip(benchmark::State& state) {
  zmesh::EnvelopeEncoder enc;
  zmesh::EnvelopeDecoder dec;
  zmesh::Header h = request_header();
  zmesh::FrameSet frames;
  const std::string payload(16, 'p');
  (void)enc.encode(h);
  const long before = g_allocs.load();
  for (auto _ : state) {
    ++h.correlation_id;
    frames.clear();
    frames.push(zmq::message_t("\0id01", 5));
    frames.push(enc.encode(h));
    frames.push(zmq::message_t(payload.data(), payload.size()));
    auto env = dec.decode(zmesh::Layout::router, frames);
    if (!env.ok() || env->header.correlation_id != h.correlation_id) state.SkipWithError("decode");
  }
  state.counters["allocs/msg"] =
      static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_EncodeDecodeRoundTrip);

}  // namespace

BENCHMARK_MAIN();
