// LSTM-Sharp MFU: gate activations and the c/h update of LANES elements per cycle.
//
// Per element, bit for bit sim/lstm_sharp/mfu.h: Mfu::element (models/common/fixed.h):
//   i, f, o = sigmoid(z_i, z_f, z_o), g = tanh(z_g)                       Q4.11 -> Q0.15
//   c = sat16(round_half_up((f * c_prev * 2^4 + i * g) / 2^19))             Q4.11
//   h = sat16(round_half_up(o * tanh(c) / 2^17))                            Q2.13
// Timing (sim/lstm_sharp/mfu.h; configs/hw/lstm_sharp/base.yaml mfu: lanes 16, latency_cycles
// 8): LANES elements are taken every cycle (II = 1) and leave LATENCY = 8 cycles later:
//   1-2 gate activations (ROM read, interpolation)   3 products f*c, i*g
//   4   sum, round, saturate -> c                      5-6 tanh(c)
//   7   product o*tanh(c)                              8 round, saturate -> h
module mfu #(
    parameter int LANES = 16  // elements per cycle
) (
    input  logic                          clk,
    input  logic                          rst_n,  // synchronous, clears the valid bits
    input  logic                          in_valid,
    // LANES elements per port, lane l at [16*l +: 16].
    input  logic [16*LANES-1:0] in_zi,  // Q4.11 pre-activations of gates i, f, g, o
    input  logic [16*LANES-1:0] in_zf,
    input  logic [16*LANES-1:0] in_zg,
    input  logic [16*LANES-1:0] in_zo,
    input  logic [16*LANES-1:0] in_c,   // Q4.11 cell state before the step
    output logic                out_valid,
    output logic [16*LANES-1:0] out_c,  // Q4.11 cell state after the step
    output logic [16*LANES-1:0] out_h   // Q2.13 hidden output
);
  localparam int LATENCY = 8;

  function automatic logic signed [15:0] sat16(input logic signed [35:0] v);
    if (v > 36'sd32767) sat16 = 16'sh7fff;
    else if (v < -36'sd32768) sat16 = 16'sh8000;
    else sat16 = v[15:0];
  endfunction

  logic valid_q[1:LATENCY];
  always_ff @(posedge clk) begin
    valid_q[1] <= rst_n && in_valid;
    for (int s = 2; s <= LATENCY; s++) valid_q[s] <= rst_n && valid_q[s-1];
  end
  assign out_valid = valid_q[LATENCY];

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    // Stages 1-2: the four gates.
    logic signed [15:0] i2, f2, g2, o2;
    act_interp #(.TANH(0)) u_i (.clk, .z(in_zi[16*l+:16]), .y(i2));
    act_interp #(.TANH(0)) u_f (.clk, .z(in_zf[16*l+:16]), .y(f2));
    act_interp #(.TANH(1)) u_g (.clk, .z(in_zg[16*l+:16]), .y(g2));
    act_interp #(.TANH(0)) u_o (.clk, .z(in_zo[16*l+:16]), .y(o2));
    logic signed [15:0] c1, c2, o3, o4, o5, o6, c5, c6, c7;
    logic signed [31:0] fc3, ig3, oc7;
    logic signed [15:0] c4, tc6, h8, c8;
    always_ff @(posedge clk) begin
      c1  <= $signed(in_c[16*l+:16]);
      c2  <= c1;
      // Stage 3: f*c has 26 fraction bits, i*g 30.
      fc3 <= 32'(f2) * 32'(c2);
      ig3 <= 32'(i2) * 32'(g2);
      o3  <= o2;
      // Stage 4: align f*c to 30 fraction bits, add, round to Q4.11 (shift 19), saturate.
      c4  <= sat16((36'(fc3) * 36'sd16 + 36'(ig3) + 36'sd262144) >>> 19);
      o4  <= o3;
      o5  <= o4;
      o6  <= o5;
      c5  <= c4;
      c6  <= c5;
      // Stage 7: o * tanh(c), 30 fraction bits.
      oc7 <= 32'(o6) * 32'(tc6);
      c7  <= c6;
      // Stage 8: round to Q2.13 (shift 17), saturate.
      h8  <= sat16((36'(oc7) + 36'sd65536) >>> 17);
      c8  <= c7;
    end
    // Stages 5-6: tanh(c); c is Q4.11 like a pre-activation, so it feeds the ROM unshifted.
    act_interp #(.TANH(1)) u_tc (.clk, .z(c4), .y(tc6));
    assign out_c[16*l+:16] = c8;
    assign out_h[16*l+:16] = h8;
  end
endmodule
