// bnn_fifo: synchronous AXI-Stream FIFO between dataflow stages.
//
// Invariants: s_tready and m_tvalid are registered (depend on no input combinationally), so
// chaining blocks through FIFOs never forms a combinational path or loop. A FIFO that is
// neither empty nor full moves one word in and one out per cycle.
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
    localparam int AW = (DEPTH <= 2) ? 1 : $clog2(DEPTH);

    logic [WIDTH-1:0] mem [DEPTH];
    logic [AW-1:0] wr_ptr, rd_ptr;
    logic [AW:0] count;

    wire do_write = s_tvalid && s_tready;
    wire do_read = m_tvalid && m_tready;

    // The head of the queue is presented from mem directly: m_tdata changes only on a read or
    // on the write into an empty FIFO, both at a clock edge.
    assign m_tdata = mem[rd_ptr];
    assign m_tvalid = (count != 0);
    assign s_tready = (count != DEPTH[AW:0]);

    // (written as an if/else: yosys 0.70 does not parse `return c ? a : b` here)
    function automatic logic [AW-1:0] next(input logic [AW-1:0] p);
        if (p == AW'(DEPTH - 1)) next = '0;
        else next = p + 1'b1;
    endfunction

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count <= '0;
        end else begin
            if (do_write) wr_ptr <= next(wr_ptr);
            if (do_read) rd_ptr <= next(rd_ptr);
            case ({do_write, do_read})
                2'b10: count <= count + 1'b1;
                2'b01: count <= count - 1'b1;
                default: ;
            endcase
        end
    end

    always_ff @(posedge clk) begin
        if (do_write) mem[wr_ptr] <= s_tdata;
    end
endmodule
