// bnn_concat: channel concatenation of N streams of pixels of the same H x W (torch.cat along
// channels): output pixel k is the inputs' pixel k side by side in input order, input 0's
// channels first (in the low bits). Output elements are BO bits (1: sign bits, else two's
// complement fields [c*BO +: BO]), so output channel c is at [c*BO +: BO] as in any stream.
//
// Input i has CS[i] channels of BS[i] bits (1: a sign bit, +1 or -1; else two's complement)
// and a shift SS[i]: its channel value v becomes v << SS[i] in BO bits (a sign bit becomes +-1
// << SS[i]), as bnn_join reads its operands. Where every BS[i] == BO and SS[i] == 0 (the usual
// case) this is wiring only; otherwise it is wiring too (sign extension, +-1, shift).
//
// Ports: input i is s_tdata[LO_i +: CS[i]*BS[i]] (LO_i = the sum of CS[j]*BS[j], j < i),
// s_tvalid[i], s_tready[i]; IW = the width of s_tdata. The output is one stream of CT*BO bits.
// CS, BS, SS are flat parameter vectors: entry i at [i*16 +: 16] (CS), [i*8 +: 8] (BS, SS).
// CT must be the sum of CS, IW the sum of CS[i]*BS[i], and BO must hold every input's values
// (BO = 1 only for sign bits unshifted): else an elaboration error.
//
// Handshakes: each input has its own 2-entry queue (s_tready[i] = its queue is not full), one
// output register; a pixel leaves when every queue holds one (a join of N streams). State
// only: no combinational path m_tready->s_tready or s_tvalid->m_tvalid.
// Interval: one pixel per cycle while every input delivers.
module bnn_concat #(
    parameter int N = 2,
    parameter int CT = 2,
    parameter int IW = 2,
    parameter int BO = 1,
    parameter logic [N*16-1:0] CS = {16'd1, 16'd1},
    parameter logic [N*8-1:0] BS = {8'd1, 8'd1},
    parameter logic [N*8-1:0] SS = '0
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [IW-1:0]    s_tdata,
    input  logic [N-1:0]     s_tvalid,
    output logic [N-1:0]     s_tready,
    output logic [CT*BO-1:0] m_tdata,
    output logic             m_tvalid,
    input  logic             m_tready
);
    // input i's channels, element bits and shift; its first channel in the output and its
    // first bit in s_tdata (for i = N: the totals)
    function automatic integer channels(input integer i);
        channels = {16'd0, CS[i*16 +: 16]};
    endfunction

    function automatic integer bits(input integer i);
        bits = {24'd0, BS[i*8 +: 8]};
    endfunction

    function automatic integer shift(input integer i);
        shift = {24'd0, SS[i*8 +: 8]};
    endfunction

    function automatic integer first_channel(input integer i);
        first_channel = 0;
        for (integer j = 0; j < i; j++) first_channel = first_channel + channels(j);
    endfunction

    function automatic integer first_bit(input integer i);
        first_bit = 0;
        for (integer j = 0; j < i; j++) first_bit = first_bit + channels(j) * bits(j);
    endfunction

    if (first_channel(N) != CT) begin : g_bad_ct
        $error("bnn_concat: CT must be the sum of the CS entries");
    end
    if (first_bit(N) != IW) begin : g_bad_iw
        $error("bnn_concat: IW must be the sum of CS[i]*BS[i]");
    end

    // ---------------------------------------------------------------- input queues (2 entries)
    logic [N-1:0] ready_in;     // queue i holds a pixel
    logic [CT*BO-1:0] heads;    // every queue's oldest pixel, converted, side by side
    logic rd;                   // the read slot, shared: every queue pops at once
    logic out_valid;
    logic [CT*BO-1:0] out_data;

    wire take = (&ready_in) && (!out_valid || m_tready);

    for (genvar i = 0; i < N; i++) begin : g_in
        localparam int CI = channels(i);
        localparam int BI = bits(i);
        localparam int SI = shift(i);
        localparam int LO = first_bit(i);
        localparam int OLO = first_channel(i) * BO;
        logic [CI*BI-1:0] q [2];
        logic wr;
        logic [1:0] count;

        if (BO == 1 ? (BI != 1 || SI != 0) : ((BI == 1 ? 2 : BI) + SI > BO)) begin : g_bad_bo
            $error("bnn_concat: BO does not hold an input's values");
        end

        assign s_tready[i] = (count != 2'd2);
        wire push = s_tvalid[i] && s_tready[i];
        assign ready_in[i] = (count != 2'd0);

        always_ff @(posedge clk) begin
            if (!rst_n) begin
                wr <= 1'b0;
                count <= 2'd0;
            end else begin
                if (push) wr <= ~wr;
                case ({push, take})
                    2'b10: count <= count + 2'd1;
                    2'b01: count <= count - 2'd1;
                    default: ;
                endcase
            end
        end

        always_ff @(posedge clk) begin
            if (push) q[wr] <= s_tdata[LO +: CI*BI];
        end

        wire [CI*BI-1:0] head = q[rd];
        if (BI == BO && SI == 0) begin : g_same
            assign heads[OLO +: CI*BO] = head;
        end else begin : g_widen
            for (genvar c = 0; c < CI; c++) begin : g_ch
                logic [BO-1:0] v;
                if (BI == 1) begin : g_sign
                    assign v = head[c] ? BO'(1) : '1;
                end else begin : g_int
                    assign v = BO'($signed(head[c*BI +: BI]));
                end
                assign heads[OLO + c*BO +: BO] = v << SI;
            end
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) rd <= 1'b0;
        else if (take) rd <= ~rd;
    end

    // ---------------------------------------------------------------- output register
    always_ff @(posedge clk) begin
        if (!rst_n) out_valid <= 1'b0;
        else if (take) out_valid <= 1'b1;
        else if (m_tready) out_valid <= 1'b0;
    end

    always_ff @(posedge clk) begin
        if (take) out_data <= heads;
    end

    assign m_tdata = out_data;
    assign m_tvalid = out_valid;
endmodule
