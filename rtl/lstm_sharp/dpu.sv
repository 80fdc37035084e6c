// LSTM-Sharp DPU: K int16 products a cycle, pipelined adder tree, exact 48-bit accumulator.
//
// Timing (sim/lstm_sharp/dpu.h: Dpu::latency, which the testbench checks): one K-element
// pass per cycle (II = 1); the sum of a row is on out_acc, with out_valid high, LATENCY =
// ceil(log2 K) + 1 cycles after the cycle that presented the row's last pass. The
// multipliers and the first adder level form one stage, so the depth is the adder tree's
// plus the accumulator's, nothing more.
// Arithmetic (models/common/fixed.h: dot): products are exact and never rounded, so the
// accumulator keeps 26 fraction bits; 48 bits hold up to 2^17 - 1 full-scale products.
// in_first starts a row from in_psum (0 for a fresh row, a parked partial sum when the
// W*x part of a row ran ahead of its U*h part); passes with in_first low add on.
module dpu #(
    parameter int K = 8,        // lanes: elements per pass
    parameter int W_W = 16,     // weight width (Q2.13)
    parameter int A_W = 16,     // activation width (Q2.13)
    parameter int ACC_W = 48    // accumulator width (26 fraction bits)
) (
    input  logic                    clk,
    input  logic                    rst_n,     // synchronous, clears the valid bits
    input  logic                    in_valid,
    input  logic                    in_first,  // first pass of a row: start from in_psum
    input  logic                    in_last,   // last pass of a row: emit the sum
    input  logic        [K*W_W-1:0] in_w,      // K elements, lane k at [k*W_W +: W_W]
    input  logic        [K*A_W-1:0] in_a,
    input  logic signed [ACC_W-1:0] in_psum,
    output logic                    out_valid,
    output logic signed [ACC_W-1:0] out_acc
);
  localparam int DEPTH = (K > 1) ? $clog2(K) : 0;  // adder-tree levels
  localparam int P = 1 << DEPTH;                    // leaves, K padded to a power of two

  // Products, sign-extended to the accumulator width; padding leaves are zero.
  logic signed [ACC_W-1:0] leaf[P];
  for (genvar k = 0; k < P; k++) begin : g_leaf
    if (k < K) begin : g_mul
      assign leaf[k] = ACC_W'($signed(in_w[k*W_W+:W_W]) * $signed(in_a[k*A_W+:A_W]));
    end else begin : g_pad
      assign leaf[k] = '0;
    end
  end

  // Control travelling beside the tree: ctl_*[0] is the input, ctl_*[l] after level l.
  logic                    ctl_valid[DEPTH+1];
  logic                    ctl_first[DEPTH+1];
  logic                    ctl_last [DEPTH+1];
  logic signed [ACC_W-1:0] ctl_psum [DEPTH+1];
  assign ctl_valid[0] = in_valid;
  assign ctl_first[0] = in_first;
  assign ctl_last[0]  = in_last;
  assign ctl_psum[0]  = in_psum;

  logic signed [ACC_W-1:0] tree_sum;  // the row pass's sum as it reaches the accumulator

  if (DEPTH == 0) begin : g_no_tree
    assign tree_sum = leaf[0];
  end else begin : g_tree
    // Heap-ordered adder tree: node i (1 <= i < P) sums its children 2i and 2i+1, where
    // indices >= P are leaves. Every node is a register, so level l is pipeline stage l.
    logic signed [ACC_W-1:0] node[1:P-1];
    for (genvar i = 1; i < P; i++) begin : g_node
      logic signed [ACC_W-1:0] left, right;
      if (2 * i >= P) begin : g_from_leaves
        assign left  = leaf[2*i-P];
        assign right = leaf[2*i+1-P];
      end else begin : g_from_nodes
        assign left  = node[2*i];
        assign right = node[2*i+1];
      end
      always_ff @(posedge clk) node[i] <= left + right;
    end
    assign tree_sum = node[1];

    for (genvar l = 1; l <= DEPTH; l++) begin : g_ctl
      always_ff @(posedge clk) begin
        ctl_valid[l] <= rst_n && ctl_valid[l-1];
        ctl_first[l] <= ctl_first[l-1];
        ctl_last[l]  <= ctl_last[l-1];
        ctl_psum[l]  <= ctl_psum[l-1];
      end
    end
  end

  // Accumulator: the last pipeline stage.
  logic signed [ACC_W-1:0] acc;
  logic                    valid_q;
  always_ff @(posedge clk) begin
    if (ctl_valid[DEPTH]) acc <= (ctl_first[DEPTH] ? ctl_psum[DEPTH] : acc) + tree_sum;
    valid_q <= rst_n && ctl_valid[DEPTH] && ctl_last[DEPTH];
  end
  assign out_valid = valid_q;
  assign out_acc   = acc;
endmodule
