// bnn_join: the residual add of two streams of C-element pixels (ir.Join):
//   out[c] = (a[c] <<< SA) + (b[c] <<< SB)
// a's elements are BA bits, b's BB bits: 1 = a sign bit read as +1 (bit 1) or -1 (bit 0),
// else two's complement. The sum is BO-bit two's complement; BO holds every sum of the
// operands' ranges (Network.element_bits), so the sum modulo 2^BO is exact.
//
// Handshakes: a_tready / b_tready come from 2-entry input queues, m_tvalid from the output
// register (state only: no combinational path m_tready->*_tready or *_tvalid->m_tvalid).
// Interval: one pixel per cycle while both operands are there.
module bnn_join #(
    parameter int C = 1,
    parameter int BA = 1,
    parameter int BB = 1,
    parameter int SA = 0,
    parameter int SB = 0,
    parameter int BO = 2
) (
    input  logic            clk,
    input  logic            rst_n,
    input  logic [C*BA-1:0] a_tdata,
    input  logic            a_tvalid,
    output logic            a_tready,
    input  logic [C*BB-1:0] b_tdata,
    input  logic            b_tvalid,
    output logic            b_tready,
    output logic [C*BO-1:0] m_tdata,
    output logic            m_tvalid,
    input  logic            m_tready
);
    // ---------------------------------------------------------------- input queues (2 entries)
    logic [C*BA-1:0] aq [2];
    logic [C*BB-1:0] bq [2];
    logic a_wr, a_rd, b_wr, b_rd;
    logic [1:0] a_count, b_count;
    logic out_valid;
    logic [C*BO-1:0] out_data;

    assign a_tready = (a_count != 2'd2);
    assign b_tready = (b_count != 2'd2);
    wire a_push = a_tvalid && a_tready;
    wire b_push = b_tvalid && b_tready;
    wire take = (a_count != 2'd0) && (b_count != 2'd0) && (!out_valid || m_tready);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            a_wr <= 1'b0;
            a_rd <= 1'b0;
            a_count <= 2'd0;
            b_wr <= 1'b0;
            b_rd <= 1'b0;
            b_count <= 2'd0;
        end else begin
            if (a_push) a_wr <= ~a_wr;
            if (b_push) b_wr <= ~b_wr;
            if (take) begin
                a_rd <= ~a_rd;
                b_rd <= ~b_rd;
            end
            case ({a_push, take})
                2'b10: a_count <= a_count + 2'd1;
                2'b01: a_count <= a_count - 2'd1;
                default: ;
            endcase
            case ({b_push, take})
                2'b10: b_count <= b_count + 2'd1;
                2'b01: b_count <= b_count - 2'd1;
                default: ;
            endcase
        end
    end

    always_ff @(posedge clk) begin
        if (a_push) aq[a_wr] <= a_tdata;
        if (b_push) bq[b_wr] <= b_tdata;
    end

    // ---------------------------------------------------------------- the add
    wire [C*BA-1:0] a_head = aq[a_rd];
    wire [C*BB-1:0] b_head = bq[b_rd];
    logic [C*BO-1:0] sum;

    for (genvar c = 0; c < C; c++) begin : g_add
        logic signed [BO-1:0] av, bv;
        if (BA == 1) begin : g_a_sign
            assign av = a_head[c] ? BO'(1) : '1;
        end else begin : g_a_int
            assign av = BO'($signed(a_head[c*BA +: BA]));
        end
        if (BB == 1) begin : g_b_sign
            assign bv = b_head[c] ? BO'(1) : '1;
        end else begin : g_b_int
            assign bv = BO'($signed(b_head[c*BB +: BB]));
        end
        assign sum[c*BO +: BO] = (av <<< SA) + (bv <<< SB);
    end

    // ---------------------------------------------------------------- output register
    always_ff @(posedge clk) begin
        if (!rst_n) out_valid <= 1'b0;
        else if (take) out_valid <= 1'b1;
        else if (m_tready) out_valid <= 1'b0;
    end

    always_ff @(posedge clk) begin
        if (take) out_data <= sum;
    end

    assign m_tdata = out_data;
    assign m_tvalid = out_valid;
endmodule
