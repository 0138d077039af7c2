// bnn_threshold: a standalone activation on a stream of C-element integer pixels
// (ir.Threshold: the requantization after a residual join), every channel in parallel:
//   LEVELS = 0:  bit c = (x[c] >= thr[c]) ^ flip[c]                       (sign output)
//   LEVELS >= 2: field [c*O_B +: O_B] = OFFSET + sum_i ((x[c] >= thr[c][i]) ^ flip[c]),
//                i < LEVELS-1 (FINN MultiThreshold), O_B-bit two's complement
// x's elements are BI bits: 1 = a sign bit read as +-1, else two's complement. Thresholds are
// THR_W-bit two's complement (clamped to the input's range + 1 by the generator), in the
// MVAU's layout with PE = C and one word: level i of channel c at [(c*NT + i)*THR_W +: THR_W];
// the flip word has bit c for channel c.
//
// Handshakes: s_tready from a 2-entry input queue, m_tvalid from the output register.
// Interval: one pixel per cycle.
module bnn_threshold #(
    parameter int C = 1,
    parameter int BI = 2,
    parameter int LEVELS = 0,
    parameter int O_B = 1,
    parameter int OFFSET = 0,
    parameter int THR_W = BI + 1,
    parameter THRESH_FILE = "threshold_thresh.mem",
    parameter FLIP_FILE = "threshold_flip.mem"
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic [C*BI-1:0]        s_tdata,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [C*((LEVELS >= 2) ? O_B : 1)-1:0] m_tdata,
    output logic                   m_tvalid,
    input  logic                   m_tready
);
    localparam int NT = (LEVELS >= 2) ? LEVELS - 1 : 1;  // thresholds per channel
    localparam int OW = (LEVELS >= 2) ? O_B : 1;  // output bits per channel
    localparam int CMP_W = ((BI > THR_W) ? BI : THR_W) + 1;

    // ---------------------------------------------------------------- tables (one word each)
    logic [C*NT*THR_W-1:0] tmem [1];
    logic [C-1:0] fmem [1];
    initial $readmemh(THRESH_FILE, tmem);
    initial $readmemh(FLIP_FILE, fmem);
    wire [C*NT*THR_W-1:0] thr = tmem[0];
    wire [C-1:0] flip = fmem[0];

    // ---------------------------------------------------------------- input queue (2 entries)
    logic [C*BI-1:0] q [2];
    logic wr, rd;
    logic [1:0] count;
    logic out_valid;
    logic [C*OW-1:0] out_data;

    assign s_tready = (count != 2'd2);
    wire push = s_tvalid && s_tready;
    wire take = (count != 2'd0) && (!out_valid || m_tready);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr <= 1'b0;
            rd <= 1'b0;
            count <= 2'd0;
        end else begin
            if (push) wr <= ~wr;
            if (take) rd <= ~rd;
            case ({push, take})
                2'b10: count <= count + 2'd1;
                2'b01: count <= count - 2'd1;
                default: ;
            endcase
        end
    end

    always_ff @(posedge clk) begin
        if (push) q[wr] <= s_tdata;
    end

    // ---------------------------------------------------------------- compare
    wire [C*BI-1:0] head = q[rd];
    logic [C*OW-1:0] act;

    for (genvar c = 0; c < C; c++) begin : g_ch
        logic signed [CMP_W-1:0] x;
        logic [NT-1:0] ge;
        if (BI == 1) begin : g_sign_in
            assign x = head[c] ? CMP_W'(1) : '1;
        end else begin : g_int_in
            assign x = CMP_W'($signed(head[c*BI +: BI]));
        end
        for (genvar i = 0; i < NT; i++) begin : g_cmp
            wire signed [THR_W-1:0] t = thr[(c*NT + i)*THR_W +: THR_W];
            assign ge[i] = (x >= CMP_W'(t)) ^ flip[c];
        end
        if (LEVELS >= 2) begin : g_multi
            localparam int CNT_W = $clog2(LEVELS);
            logic [CNT_W-1:0] cnt;
            always_comb begin
                cnt = '0;
                for (int i = 0; i < NT; i++) cnt = cnt + CNT_W'(ge[i]);
            end
            assign act[c*OW +: OW] = OW'(OFFSET) + OW'(cnt);
        end else begin : g_sign
            assign act[c] = ge[0];
        end
    end

    // ---------------------------------------------------------------- output register
    always_ff @(posedge clk) begin
        if (!rst_n) out_valid <= 1'b0;
        else if (take) out_valid <= 1'b1;
        else if (m_tready) out_valid <= 1'b0;
    end

    always_ff @(posedge clk) begin
        if (take) out_data <= act;
    end

    assign m_tdata = out_data;
    assign m_tvalid = out_valid;
endmodule
