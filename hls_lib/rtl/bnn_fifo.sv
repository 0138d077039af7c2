// bnn_fifo: synchronous AXI-Stream FIFO between dataflow stages.
//
// Invariants: s_tready and m_tvalid are registers (depend on no input combinationally), so
// chaining blocks through FIFOs never forms a combinational path or loop. A FIFO that is
// neither empty nor full moves one word in and one out per cycle, and a word written into an
// empty FIFO is readable on the next cycle (one cycle of latency, whatever DEPTH).
//
// Structure: with DEPTH <= 2 the FIFO is a two-entry register queue (bnn_in_queue). Past
// that, a RAM of DEPTH words sits behind a four-entry head queue that m_tdata and m_tvalid
// come from:
//   - a word written while the RAM is empty, no RAM read is in flight and the head queue has
//     room goes straight into the head queue (the one-cycle latency of an empty FIFO);
//   - any other word goes into the RAM, and the RAM refills the head queue in order.
// The RAM is read at the read pointer register on every cycle and the read data registered
// twice (a block RAM's read latch, then its output register); a read lands in the head queue
// two cycles after it is issued, and it is issued only when a head entry is free for it
// (counting the consumer's pop this cycle), so a backlog drains at one word per cycle.
// Nothing from the consumer reaches the RAM's address: m_tready only decides whether the
// pointer moves (a flip-flop input). The path this replaces (the head at mem[rd_ptr], which
// yosys turns into a RAM read at the *next* pointer, so m_tready -> pointer increment -> RAM
// address -> read data in one cycle) was the residual demo's critical path on ECP5 (105.8 MHz).
// Capacity: DEPTH words in the RAM plus those in the head queue.
module bnn_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [WIDTH-1:0] s_tdata,
    input  logic             s_tvalid,
    output logic             s_tready,
    output logic [WIDTH-1:0] m_tdata,
    output logic             m_tvalid,
    input  logic             m_tready
);
    wire pop = m_tvalid && m_tready;

    if (DEPTH <= 2) begin : g_queue
        // The head queue alone is the FIFO.
        bnn_in_queue #(.WIDTH(WIDTH)) u_head (
            .clk, .rst_n,
            .s_tdata, .s_tvalid, .s_tready,
            .head(m_tdata), .avail(m_tvalid), .pop,
            .fill(1'b0), .fill_odd(1'b0)
        );
    end else begin : g_ram
        localparam int AW = $clog2(DEPTH);
        localparam int HQ = 4;  // head queue entries: one held + the reads in flight (two) + one

        (* no_rw_check *) logic [WIDTH-1:0] mem [DEPTH];  // (the RAM comment below says why)
        logic [WIDTH-1:0] rdata, rdata_q;
        logic [AW-1:0] wr_ptr, rd_ptr;
        logic [AW:0] count;         // words in the RAM not yet read out
        logic ram_any, ram_full;    // count != 0, count == DEPTH (registers of their own)
        logic [1:0] in_flight;      // [0]: a read issued last cycle (in rdata), [1]: two ago (in rdata_q)

        logic [WIDTH-1:0] hq [HQ];
        logic [1:0] hwr, hrd;
        logic [2:0] held, claimed;  // words in the head queue; those plus the reads in flight
        logic head_valid;           // held != 0

        assign m_tdata = hq[hrd];
        assign m_tvalid = head_valid;
        assign s_tready = !ram_full;

        wire push = s_tvalid && s_tready;
        wire room = (claimed != 3'(HQ));
        // A word goes straight to the head queue when direct_ok, else into the RAM. The RAM
        // and the head queue are written whenever a word could arrive, valid or not (the
        // entry at the write pointer is free either way; only a push moves the pointer), so
        // s_tvalid reaches the pointers and counters alone, not the write enables of WIDTH
        // bits: padnet's window valid into them was its critical path on ECP5 (105.0 MHz,
        // 1.7 + 7.8 ns).
        wire direct_ok = !ram_any && (in_flight == 2'b00) && room;  // registers only
        wire direct = push && direct_ok;
        wire ram_write = push && !direct_ok;
        // A read claims its head entry when issued: with the consumer's pop counted in, the
        // queue drains and refills at one word per cycle while reads are in flight.
        wire issue = ram_any && (room || pop);
        wire land = in_flight[1];
        wire head_push = direct || land;
        wire [WIDTH-1:0] head_in = land ? rdata_q : s_tdata;

        // (written as an if/else: yosys 0.70 does not parse `return c ? a : b` here)
        function automatic logic [AW-1:0] next(input logic [AW-1:0] p);
            if (p == AW'(DEPTH - 1)) next = '0;
            else next = p + 1'b1;
        endfunction

        // The count's next value, and its flags' next values without the adder: the compares
        // are on the count register, in parallel with the handshake logic that picks one
        // (the count -> != 0 compare after the push had become the residual and depthwise
        // nets' critical path, 2.9 + 5.6 ns).
        wire inc = ram_write && !issue;
        wire dec = issue && !ram_write;
        logic [AW:0] count_d;
        always_comb begin
            count_d = count;
            if (inc) count_d = count + 1'b1;
            else if (dec) count_d = count - 1'b1;
        end
        wire any_d = inc || (dec ? (count != (AW + 1)'(1)) : ram_any);
        wire full_d = inc ? (count == (AW + 1)'(DEPTH - 1)) : (!dec && ram_full);
        wire [2:0] held_d = held + 3'(head_push) - 3'(pop);

        always_ff @(posedge clk) begin
            if (!rst_n) begin
                wr_ptr <= '0;
                rd_ptr <= '0;
                count <= '0;
                ram_any <= 1'b0;
                ram_full <= 1'b0;
                in_flight <= '0;
                hwr <= '0;
                hrd <= '0;
                held <= '0;
                claimed <= '0;
                head_valid <= 1'b0;
            end else begin
                if (ram_write) wr_ptr <= next(wr_ptr);
                if (issue) rd_ptr <= next(rd_ptr);
                count <= count_d;
                ram_any <= any_d;    // = count_d != 0
                ram_full <= full_d;  // = count_d == DEPTH
                in_flight <= {in_flight[0], issue};
                if (head_push) hwr <= hwr + 1'b1;
                if (pop) hrd <= hrd + 1'b1;
                held <= held_d;
                claimed <= claimed + 3'(issue || direct) - 3'(pop);
                head_valid <= head_push || (pop ? (held != 3'd1) : head_valid);  // = held_d != 0
            end
        end

        // The RAM: written and read in processes of their own, no enable on the read, so
        // yosys maps the pair to one RAM read port registered at rdata; rdata_q is the block
        // RAM's output register on ECP5 (bnn2hls/estimate/ecp5_outreg.py moves it there: a
        // DP16KD read without it is 5.8 ns from the clock, the residual demo's critical path
        // with one register), a register after the read of a distributed RAM. A read of the
        // word being written never counts (it is not in `count` until the next cycle), so the
        // memory says `no_rw_check`: else yosys puts a collision bypass (a LUT4 per bit) between
        // the block RAM and rdata_q, and the output register cannot take rdata_q (CNV_1W1A's
        // critical path on ECP5: maxpool0's FIFO read, 6.1 + 3.7 ns).
        always_ff @(posedge clk) begin
            if (s_tready && !direct_ok) mem[wr_ptr] <= s_tdata;  // = ram_write, valid or not
        end
        always_ff @(posedge clk) begin
            rdata <= mem[rd_ptr];
        end
        always_ff @(posedge clk) begin
            rdata_q <= rdata;
        end
        always_ff @(posedge clk) begin
            if (land || (s_tready && direct_ok)) hq[hwr] <= head_in;  // = head_push, valid or not
        end
    end
endmodule
