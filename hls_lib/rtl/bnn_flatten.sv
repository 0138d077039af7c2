// bnn_flatten: collect N consecutive input words of W bits into one output word of N*W bits
// (word 0 in the low bits). A dense layer after a conv consumes the conv's H*W output pixels
// as one vector; in the streaming (H, W, C) order that is exactly their concatenation.
//
// Interval: N cycles per vector. The output register is separate from the collecting slots,
// so the next vector is collected while the previous one waits for m_tready. Latency 1: the
// last word goes straight into the output register.
//
// Timing: the N*W-bit registers are written in slots of W bits, and every slot's enables come
// from registers of its own: slot k takes s_tdata while the one-hot word position is at k
// (valid or not: the position only moves on a transfer, so an invalid word is overwritten),
// and its part of the output register loads while the position is at the last word and the
// output is free (again valid or not: m_tvalid only rises on a transfer). The handshake
// signals (s_tvalid, m_tready) then reach the slots' copies of the control state (one LUT
// each), never an enable net of N*W flip-flops: the residual demo net's flatten valid into
// such nets was its critical path on ECP5 (7.2 ns of routing).
// s_tready depends only on the `pending` register; for N > 1 the output register loads only
// while empty, so m_tready is on no load enable either.
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
    // The control state {at_last, m_tvalid, pending} in the next cycle, from its current value,
    // the handshake inputs and `pen` (the position is at N-2): one function, evaluated by the
    // central copy and by every slot's own copy.
    //   at_last: the next word is the vector's last; pending: the slots hold a complete vector
    //   the output register could not take yet (it takes one only while empty, for N > 1).
    function automatic logic [2:0] control_next(input logic [2:0] st, input logic valid_in, input logic ready_out,
                                                input logic pen_i);
        logic at_last, valid_out, pend, free;
        {at_last, valid_out, pend} = st;
        free = !valid_out || (N == 1 && ready_out);
        control_next = {at_last, valid_out && !ready_out, pend};
        if (pend && free) begin
            control_next[1:0] = 2'b10;
        end else if (valid_in && !pend) begin
            if (at_last) begin
                control_next[2] = (N == 1);
                if (free) control_next[1] = 1'b1;
                else control_next[0] = 1'b1;
            end else begin
                control_next[2] = pen_i;
            end
        end
    endfunction

    logic at_last, pending, pen;
    logic [N-1:0] hot;  // one-hot word position
    logic [N-1:0] hot_next;  // the position after a move
    generate
        if (N == 1) begin : g_hot1
            assign hot_next = hot;
        end else begin : g_hot
            assign hot_next = {hot[N-2:0], hot[N-1]};
        end
    endgenerate
    wire take = s_tvalid && !pending;
    assign s_tready = !pending;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            {at_last, m_tvalid, pending} <= {N == 1, 2'b00};
            pen <= (N == 2);
            hot <= N'(1);
        end else begin
            {at_last, m_tvalid, pending} <= control_next({at_last, m_tvalid, pending}, s_tvalid, m_tready, pen);
            if (take) begin
                // the position after the move is N-2 when it was at N-3 (N >= 3), or when it
                // wraps to 0 and N == 2
                pen <= (N == 2) ? hot[N-1] : (N >= 3 && hot[(N >= 3) ? N - 3 : 0]);
                hot <= hot_next;
            end
        end
    end

    logic [N*W-1:0] collect;
    generate
        for (genvar k = 0; k < N; k++) begin : g_slot
            logic last_c, valid_c, pend_c;  // this slot's copy of {at_last, m_tvalid, pending}
            (* keep *) always_ff @(posedge clk) begin
                if (!rst_n) {last_c, valid_c, pend_c} <= {N == 1, 2'b00};
                else {last_c, valid_c, pend_c} <= control_next({last_c, valid_c, pend_c}, s_tvalid, m_tready, pen);
            end
            wire free_c = !valid_c || (N == 1 && m_tready);
            always_ff @(posedge clk) begin
                if (hot[k] && !pend_c) collect[k*W +: W] <= s_tdata;
            end
            if (k == N - 1) begin : g_last
                always_ff @(posedge clk) begin
                    if (free_c && pend_c) m_tdata[k*W +: W] <= collect[k*W +: W];
                    else if (free_c && last_c) m_tdata[k*W +: W] <= s_tdata;
                end
            end else begin : g_early
                always_ff @(posedge clk) begin
                    if (free_c && (pend_c || last_c)) m_tdata[k*W +: W] <= collect[k*W +: W];
                end
            end
        end
    endgenerate
endmodule
