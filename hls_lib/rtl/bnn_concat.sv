// bnn_concat: channel concatenation of N streams of pixels of the same H x W (torch.cat along
// channels): output pixel k is the inputs' pixel k side by side in input order, input 0 in the
// low bits. Every input carries B-bit elements (1: sign bits, else two's complement fields
// [c*B +: B]), so channel c of the output is at [c*B +: B] as in any stream; input i's CS[i]
// channels start at channel sum(CS[j], j < i).
//
// Ports: input i is s_tdata[OFF_i*B +: CS[i]*B] (OFF_i = its first channel), s_tvalid[i],
// s_tready[i]; the output is one stream of CT*B bits. CS is a flat parameter vector, entry i
// at [i*16 +: 16]; CT = the sum of the entries.
//
// Handshakes: each input has its own 2-entry queue (s_tready[i] = its queue is not full), one
// output register; a pixel leaves when every queue holds one (a join of N streams). State
// only: no combinational path m_tready->s_tready or s_tvalid->m_tvalid.
// Interval: one pixel per cycle while every input delivers.
module bnn_concat #(
    parameter int N = 2,
    parameter int B = 1,
    parameter int CT = 2,
    parameter logic [N*16-1:0] CS = {16'd1, 16'd1}
) (
    input  logic            clk,
    input  logic            rst_n,
    input  logic [CT*B-1:0] s_tdata,
    input  logic [N-1:0]    s_tvalid,
    output logic [N-1:0]    s_tready,
    output logic [CT*B-1:0] m_tdata,
    output logic            m_tvalid,
    input  logic            m_tready
);
    // channels of input i, and the first channel of input i (of the output for i = N)
    function automatic integer channels(input integer i);
        channels = {16'd0, CS[i*16 +: 16]};
    endfunction

    function automatic integer first_channel(input integer i);
        first_channel = 0;
        for (integer j = 0; j < i; j++) first_channel = first_channel + channels(j);
    endfunction

    if (first_channel(N) != CT) begin : g_bad_ct
        $error("bnn_concat: CT must be the sum of the CS entries");
    end

    // ---------------------------------------------------------------- input queues (2 entries)
    logic [N-1:0] ready_in;   // queue i holds a pixel
    logic [CT*B-1:0] heads;   // every queue's oldest pixel, side by side
    logic rd;                 // the read slot, shared: every queue pops at once
    logic out_valid;
    logic [CT*B-1:0] out_data;

    wire take = (&ready_in) && (!out_valid || m_tready);

    for (genvar i = 0; i < N; i++) begin : g_in
        localparam int LO = first_channel(i) * B;
        localparam int WI = channels(i) * B;
        logic [WI-1:0] q [2];
        logic wr;
        logic [1:0] count;

        assign s_tready[i] = (count != 2'd2);
        wire push = s_tvalid[i] && s_tready[i];
        assign ready_in[i] = (count != 2'd0);
        assign heads[LO +: WI] = q[rd];

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
            if (push) q[wr] <= s_tdata[LO +: WI];
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
