// N:M sparse dot-product PE: compressed weights + indices, activation multiplexers, MAC.
//
// One PE of sim/nm_unit's array (sim/nm_unit/nm_unit_params.h). Each cycle it takes G groups of a row's
// N:M-compressed weights (N int8 values and their log2(M)-bit positions per group, the
// layout of models/sparse/compressed.h) and the G*M dense activations those groups cover;
// lane j of group g multiplies its weight by activation g*M + idx[j], and the lane
// products are summed into an int32 accumulator, exactly models/sparse's
// nm_gemm_reference (int8 x int8 -> int32). Dense K positions advance G*M per cycle.
// Timing (configs/hw/nm_unit/base.yaml: decode_latency 1 + pipeline_depth 3): II = 1; a row's sum
// leaves LATENCY = 4 cycles after its last chunk:
//   1 metadata decode (indices -> one-hot selects)   2 activation mux + multiply
//   3 lane adder tree                                 4 accumulate
module sparse_dot #(
    parameter int N = 2,       // kept weights per group
    parameter int M = 4,       // group size
    parameter int G = 4,       // groups per cycle (lanes = G*N, activation window = G*M)
    parameter int W_W = 8,     // weight width
    parameter int A_W = 8,     // activation width
    parameter int ACC_W = 32,  // accumulator width
    parameter int IDX_W = (M > 1) ? $clog2(M) : 1
) (
    input  logic                 clk,
    input  logic                 rst_n,     // synchronous, clears the valid bits
    input  logic                 in_valid,
    input  logic                 in_first,  // first chunk of a row: clear
    input  logic                 in_last,   // last chunk of a row: emit the sum
    // Lane j of a port at [j*width +: width]; lanes are group-major (lane j is in group j/N).
    input  logic [G*N*W_W-1:0]   in_w,      // stored values
    input  logic [G*N*IDX_W-1:0] in_idx,    // their positions in the group
    input  logic [G*M*A_W-1:0]   in_a,      // dense activation window
    output logic                 out_valid,
    output logic [ACC_W-1:0]     out_acc    // two's complement
);
  localparam int L = G * N;         // MAC lanes
  localparam int PW = W_W + A_W;    // product width

  // Stage 1: metadata decoders turn each index into a one-hot select over its group.
  logic [L*M-1:0]     sel1;
  logic [L*W_W-1:0]   w1;
  logic [G*M*A_W-1:0] a1;
  logic               v1, first1, last1;
  always_ff @(posedge clk) begin
    for (int j = 0; j < L; j++) sel1[j*M+:M] <= M'(1) << in_idx[j*IDX_W+:IDX_W];
    w1     <= in_w;
    a1     <= in_a;
    v1     <= rst_n && in_valid;
    first1 <= in_first;
    last1  <= in_last;
  end

  // Stage 2: each lane's AND-OR multiplexer picks its activation, then multiplies.
  logic [L*A_W-1:0] act;
  always_comb begin
    act = '0;
    for (int j = 0; j < L; j++)
      for (int m = 0; m < M; m++)
        if (sel1[j*M+m]) act[j*A_W+:A_W] = act[j*A_W+:A_W] | a1[((j/N)*M+m)*A_W+:A_W];
  end
  logic [L*PW-1:0] prod2;
  logic            v2, first2, last2;
  always_ff @(posedge clk) begin
    for (int j = 0; j < L; j++)
      prod2[j*PW+:PW] <= PW'($signed(w1[j*W_W+:W_W]) * $signed(act[j*A_W+:A_W]));
    v2     <= v1;
    first2 <= first1;
    last2  <= last1;
  end

  // Stage 3: the lane adder tree (one stage: L products of PW bits).
  logic signed [ACC_W-1:0] lanes_sum;
  always_comb begin
    lanes_sum = '0;
    for (int j = 0; j < L; j++) lanes_sum = lanes_sum + ACC_W'($signed(prod2[j*PW+:PW]));
  end
  logic signed [ACC_W-1:0] sum3;
  logic                    v3, first3, last3;
  always_ff @(posedge clk) begin
    sum3   <= lanes_sum;
    v3     <= v2;
    first3 <= first2;
    last3  <= last2;
  end

  // Stage 4: accumulator.
  logic signed [ACC_W-1:0] acc;
  logic                    valid_q;
  always_ff @(posedge clk) begin
    if (v3) acc <= (first3 ? '0 : acc) + sum3;
    valid_q <= rst_n && v3 && last3;
  end
  assign out_valid = valid_q;
  assign out_acc   = acc;
endmodule
