// bnn_in_queue: the two-entry input queue in front of a block that may hold its input back
// (bnn_window, and through it bnn_swg, bnn_maxpool and bnn_sumpool).
//
// Why two entries: s_tready must be a register (no combinational path from the block's
// m_tready to its s_tready), and with one entry a registered s_tready would cost a bubble
// after every pop. Two entries accept a word every cycle while the reader pops every cycle.
//
// The reader sees `head` (the oldest word) while `avail` is high and takes it with `pop`.
// FILL = 1: while `fill` is high, `head` is the reader's own `fill_data` instead (bnn_window's
// pad pixels), and the reader does not pop. The choice sits in this module's read mux on
// purpose: yosys maps each module on its own, so a second mux in the reader would cost one
// more LUT per bit.
module bnn_in_queue #(
    parameter int WIDTH = 8,
    parameter int FILL = 0
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [WIDTH-1:0] s_tdata,
    input  logic             s_tvalid,
    output logic             s_tready,
    output logic [WIDTH-1:0] head,
    output logic             avail,
    input  logic             pop,
    /* verilator lint_off UNUSEDSIGNAL */  // read only with FILL = 1
    input  logic             fill,
    input  logic [WIDTH-1:0] fill_data
    /* verilator lint_on UNUSEDSIGNAL */
);
    logic [WIDTH-1:0] q [2];
    logic wr, rd;
    logic [1:0] count;

    assign s_tready = (count != 2'd2);
    wire push = s_tvalid && s_tready;
    assign avail = (count != 2'd0);
    if (FILL != 0) begin : g_fill
        assign head = fill ? fill_data : q[rd];
    end else begin : g_head
        assign head = q[rd];
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr <= 1'b0;
            rd <= 1'b0;
            count <= 2'd0;
        end else begin
            if (push) wr <= ~wr;
            if (pop) rd <= ~rd;
            case ({push, pop})
                2'b10: count <= count + 2'd1;
                2'b01: count <= count - 2'd1;
                default: ;
            endcase
        end
    end

    always_ff @(posedge clk) begin
        if (push) q[wr] <= s_tdata;
    end
endmodule
