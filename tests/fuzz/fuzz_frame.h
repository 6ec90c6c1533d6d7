// Shared by the fuzz targets of this folder: the bytes libFuzzer (or the replay driver) gives
// become one ZeroMQ frame, as a socket would hand it to the decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <zmq.hpp>

namespace even::fuzz {

// A frame holding a copy of `data`. Like a received frame, its bytes may sit at any alignment:
// ZeroMQ keeps frames of up to 33 bytes inline in the message_t, longer ones on the heap.
inline zmq::message_t frame(const std::uint8_t* data, std::size_t size) { return zmq::message_t(data, size); }

}  // namespace even::fuzz

// The entry point every target defines; libFuzzer calls it, and so does replay_main.cpp.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
