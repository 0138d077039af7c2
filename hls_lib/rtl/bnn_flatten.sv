// bnn_flatten: collect N consecutive input words of W bits into one output word of N*W bits
// (word 0 in the low bits). A dense layer after a conv consumes the conv's H*W output pixels
// as one vector; in the streaming (H, W, C) order that is exactly their concatenation.
//
// Interval: N cycles per vector. The output register is separate from the collecting shift
// register, so the next vector is collected while the previous one waits for m_tready.
// s_tready depends only on the `pending` register (no combinational path from m_tready), and
// so does every load enable of the N*W-bit registers (for N > 1).
module bnn_flatten #(
    parameter int W = 8,
    parameter int N = 4
) (
    input  logic           clk,
    input  logic           rst_n,
    input  logic [W-1:0]   s_tdata,
    input  logic           s_tvalid,
    output logic           s_tready,
    output logic [N*W-1:0] m_tdata,
    output logic           m_tvalid,
    input  logic           m_tready
);
    localparam int CW = (N <= 1) ? 1 : $clog2(N);

    logic [N*W-1:0] collect;
    logic [N*W-1:0] shifted;
    logic [CW-1:0] index;
    logic pending;  // `collect` holds a complete vector the output register could not take yet

    // New words enter at the top; after N words, word 0 sits in the low bits.
    generate
        if (N == 1) begin : g_single
            assign shifted = s_tdata;
        end else begin : g_shift
            assign shifted = {s_tdata, collect[N*W-1:W]};
        end
    endgenerate

    // The output register takes a vector only while it is empty (for N > 1): its N*W-bit load
    // enable then depends on this block's registers alone, not on m_tready, the consumer's
    // combinational ready (a 3,136-bit enable net behind it was the residual demo net's
    // critical path on ECP5). An output taken at edge t frees the register for edge t+1,
    // which is in time for the next vector's last word (N >= 2 cycles later).
    wire out_free = !m_tvalid || (N == 1 && m_tready);
    assign s_tready = !pending;
    wire take = s_tvalid && !pending;
    wire last = (index == CW'(N - 1));

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            index <= '0;
            pending <= 1'b0;
            m_tvalid <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (pending && out_free) begin
                m_tvalid <= 1'b1;
                pending <= 1'b0;
            end else if (take) begin
                index <= last ? '0 : index + 1'b1;
                if (last && out_free) m_tvalid <= 1'b1;
                if (last && !out_free) pending <= 1'b1;
            end
        end
    end

    always_ff @(posedge clk) begin
        if (take) collect <= shifted;
        if (pending && out_free) m_tdata <= collect;
        else if (take && last && out_free) m_tdata <= shifted;
    end
endmodule
