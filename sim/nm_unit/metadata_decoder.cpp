// Metadata decoder timing, activity and index decoding from the packed bit stream.
#include "sim/nm_unit/metadata_decoder.h"

#include "models/sparse/compressed.h"

namespace tessel::nm_unit {

MetadataDecoder::MetadataDecoder(sc_core::sc_module_name name, const NmUnitParams& params,
                                 const Mapping& map, sim::OffchipPort& port,
                                 const sim::Clock& clock, const Operands* ops, Counters& counters,
                                 TraceWriter* trace)
    : sc_module(name),
      params_(params),
      map_(map),
      port_(port),
      clock_(clock),
      ops_(ops),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

std::shared_ptr<const std::vector<int32_t>> MetadataDecoder::decode(const Step& s) const {
  // Reads the packed indices exactly as stored (models/sparse/compressed.h), so a wrong
  // bit order in either place shows up as a functional mismatch.
  const bool int8 = params_.dtype == DType::kInt8;
  const std::vector<uint8_t>& packed = int8 ? ops_->w8.packed_indices : ops_->wh.packed_indices;
  const int64_t row_kept = int8 ? ops_->w8.kept_per_row() : ops_->wh.kept_per_row();
  const int bits = static_cast<int>(map_.index_bits);
  const int64_t kept = kept_per_row(map_, s.kt), j0 = s.k0 / map_.m * map_.n;
  auto sel = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(s.rows * kept));
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t j = 0; j < kept; ++j) {
      size_t bit =
          static_cast<size_t>((s.row0 + r) * row_kept + j0 + j) * static_cast<size_t>(bits);
      int idx = 0;
      for (int b = 0; b < bits; ++b, ++bit) idx |= ((packed[bit / 8] >> (bit % 8)) & 1) << b;
      (*sel)[static_cast<size_t>(r * kept + j)] = static_cast<int32_t>(j / map_.n * map_.m + idx);
    }
  return sel;
}

void MetadataDecoder::run() {
  int track = trace_ ? trace_->track("metadata_decoder") : 0;
  for (;;) {
    Step s = loaded.read();
    // The loader hands the step over once its last byte is requested; the data is usable
    // when the transfer completes (after the link latency, or the memory's answer).
    port_.wait_done(s.ticket);
    DecodedStep d{s, nullptr};
    if (map_.sparse) {
      double start = clock_.now_ns();
      if (params_.decode_latency > 0)
        sc_core::wait(clock_.cycles(static_cast<uint64_t>(params_.decode_latency)));
      const uint64_t kept = static_cast<uint64_t>(kept_per_row(map_, s.kt));
      counters_.add("weight_buffer", params_.weight_sram + "_read_byte",
                    static_cast<uint64_t>(metadata_bytes(map_, s)));
      counters_.add("decoders", "nm_index_decode", static_cast<uint64_t>(s.rows) * kept);
      if (ops_) d.select = decode(s);
      if (trace_) trace_->span(track, "decode", start, clock_.now_ns() - start);
    }
    decoded.write(d);
  }
}

}  // namespace tessel::nm_unit
