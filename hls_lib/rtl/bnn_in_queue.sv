// bnn_in_queue: the two-entry input queue in front of a block that may hold its input back
// (bnn_window, and through it bnn_swg, bnn_maxpool and bnn_sumpool).
//
// Why two entries: s_tready must be a register (no combinational path from the block's
// m_tready to its s_tready), and with one entry a registered s_tready would cost a bubble
// after every pop. Two entries accept a word every cycle while the reader pops every cycle.
//
// The reader sees `head` (the oldest word) while `avail` is high and takes it with `pop`.
// FILL = 1: while `fill` is high, `head` is one of two constant words instead, FILL_ODD when
// `fill_odd` is high, else FILL_EVEN (bnn_window's pad pixels, which alternate with the
// position), and the reader does not pop. The choice sits in this module's read mux on
// purpose: yosys maps each module on its own, so a second mux in the reader would cost one
// more LUT per bit.
module bnn_in_queue #(
    parameter int WIDTH = 8,
    parameter int FILL = 0,
    parameter logic [WIDTH-1:0] FILL_EVEN = '0,
    parameter logic [WIDTH-1:0] FILL_ODD = '0
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [WIDTH-1:0] s_tdata,
    input  logic             s_tvalid,
    output logic             s_tready,
    output logic [WIDTH-1:0] head,
    output logic             avail,   // a word is held (a register)
    input  logic             pop,
    /* verilator lint_off UNUSEDSIGNAL */  // read only with FILL = 1
    input  logic             fill,
    input  logic             fill_odd
    /* verilator lint_on UNUSEDSIGNAL */
);
    logic [WIDTH-1:0] q [2];
    logic wr, rd;          // the entry the next push writes, the entry `head` reads
    logic ready;           // fewer than 2 entries held (s_tready)

    // The occupancy as two state bits that are the outputs themselves (avail: 1 or 2 entries,
    // ready: 0 or 1), so neither output needs logic after its register.
    assign s_tready = ready;
    wire push = s_tvalid && ready;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr <= 1'b0;
            rd <= 1'b0;
            avail <= 1'b0;
            ready <= 1'b1;
        end else begin
            if (push) wr <= ~wr;
            if (pop) rd <= ~rd;
            avail <= push || (avail && !(pop && ready));  // a pop empties it only from 1 entry
            ready <= pop || (ready && !(push && avail));  // a push fills it only from 1 entry
        end
    end

    always_ff @(posedge clk) begin
        if (push) q[wr] <= s_tdata;
    end

    if (FILL != 0) begin : g_fill
        assign head = fill ? (fill_odd ? FILL_ODD : FILL_EVEN) : q[rd];
    end else begin : g_head
        assign head = q[rd];
    end
endmodule
