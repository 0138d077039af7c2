// bnn_fork: one AXI-Stream duplicated to N, for a value that feeds several layers (the fork of
// a residual block). Every word goes to every output; each output takes it in its own cycle,
// so one stalled consumer holds the fork (and through it the producer) until it takes the
// word, while the others run ahead by at most one word: the FIFOs behind the fork (sized by
// hw/fifo_sizing.py) absorb the difference between the branches.
//
// Handshakes: s_tready comes from a 2-entry input queue and m_tvalid from the queue and the
// per-output `owed` bits (state only: no combinational path m_tready->s_tready or
// s_tvalid->m_tvalid). Interval: one word per cycle while every output is ready.
// Output i is m_tdata[i*W +: W], m_tvalid[i], m_tready[i].
module bnn_fork #(
    parameter int W = 8,
    parameter int N = 2
) (
    input  logic           clk,
    input  logic           rst_n,
    input  logic [W-1:0]   s_tdata,
    input  logic           s_tvalid,
    output logic           s_tready,
    output logic [N*W-1:0] m_tdata,
    output logic [N-1:0]   m_tvalid,
    input  logic [N-1:0]   m_tready
);
    logic [W-1:0] q [2];
    logic wr, rd;
    logic [1:0] count;
    logic [N-1:0] owed;  // outputs that have not taken the head word yet

    assign s_tready = (count != 2'd2);
    wire push = s_tvalid && s_tready;
    wire avail = (count != 2'd0);
    wire [N-1:0] taken = m_tvalid & m_tready;
    wire pop = avail && ((owed & ~m_tready) == '0);  // the last outputs owed it take it now

    assign m_tvalid = avail ? owed : '0;
    assign m_tdata = {N{q[rd]}};

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr <= 1'b0;
            rd <= 1'b0;
            count <= 2'd0;
            owed <= '1;
        end else begin
            if (push) wr <= ~wr;
            if (pop) rd <= ~rd;
            case ({push, pop})
                2'b10: count <= count + 2'd1;
                2'b01: count <= count - 2'd1;
                default: ;
            endcase
            if (pop) owed <= '1;
            else owed <= owed & ~taken;
        end
    end

    always_ff @(posedge clk) begin
        if (push) q[wr] <= s_tdata;
    end
endmodule
