// tb_stream: bulk testbench for a generated network top (`bnn_top`).
//
// Streams input words from a hex file (one word per line) into s_axis as fast as the DUT takes
// them, or with pseudo-random tvalid gaps / tready stalls (+gap_pct=N, +stall_pct=N), and
// writes every output word with the cycle it was accepted in. Everything runs inside the
// compiled simulation binary: no Python per cycle, which is what makes bulk runs fast.
//
// Plusargs: +in=FILE +out=FILE +n_out=N [+gap_pct=P] [+stall_pct=P] [+seed=S] [+max_cycles=M] [+trace=FILE]
module tb_stream #(
    parameter int IN_W = 8,
    parameter int OUT_W = 8
);
    logic clk = 1'b0;
    logic rst_n = 1'b0;
    always #5 clk = ~clk;

    logic [IN_W-1:0] s_tdata;
    logic s_tvalid, s_tready;
    logic [OUT_W-1:0] m_tdata;
    logic m_tvalid, m_tready;

    bnn_top dut (.clk, .rst_n, .s_tdata, .s_tvalid, .s_tready, .m_tdata, .m_tvalid, .m_tready);

    string in_file, out_file, trace_file;
    int in_fd, out_fd, n_out, gap_pct, stall_pct, n_seen;
    longint max_cycles, cycle, first_in_cycle;
    logic [31:0] lfsr;
    logic have_word, input_done;
    logic [IN_W-1:0] next_word;

    // xorshift32: cheap, deterministic per seed.
    function automatic logic [31:0] step(input logic [31:0] x);
        logic [31:0] y = x;
        y ^= y << 13;
        y ^= y >> 17;
        y ^= y << 5;
        return y;
    endfunction

    task automatic fetch();
        int code = $fscanf(in_fd, "%h\n", next_word);
        have_word = (code == 1);
    endtask

    initial begin
        if (!$value$plusargs("in=%s", in_file)) $fatal(1, "tb_stream: +in=FILE missing");
        if (!$value$plusargs("out=%s", out_file)) $fatal(1, "tb_stream: +out=FILE missing");
        if (!$value$plusargs("n_out=%d", n_out)) $fatal(1, "tb_stream: +n_out=N missing");
        if (!$value$plusargs("gap_pct=%d", gap_pct)) gap_pct = 0;
        if (!$value$plusargs("stall_pct=%d", stall_pct)) stall_pct = 0;
        if (!$value$plusargs("seed=%d", lfsr)) lfsr = 32'h1234_5678;
        if (lfsr == 0) lfsr = 1;
        if (!$value$plusargs("max_cycles=%d", max_cycles)) max_cycles = 64'd2_000_000_000;
        if ($value$plusargs("trace=%s", trace_file)) begin
            $dumpfile(trace_file);
            $dumpvars(0, tb_stream);
        end
        in_fd = $fopen(in_file, "r");
        if (in_fd == 0) $fatal(1, "tb_stream: cannot open %s", in_file);
        out_fd = $fopen(out_file, "w");
        if (out_fd == 0) $fatal(1, "tb_stream: cannot open %s", out_file);
        fetch();
        input_done = !have_word;
        n_seen = 0;
        cycle = 0;
        first_in_cycle = -1;
        s_tvalid = 1'b0;
        s_tdata = '0;
        m_tready = 1'b0;
        repeat (4) @(posedge clk);
        rst_n = 1'b1;
    end

    // Drive right after each edge; judge handshakes at the edge (values before the update).
    always @(posedge clk) begin
        if (rst_n) begin
            cycle <= cycle + 1;
            if (s_tvalid && s_tready) begin
                if (first_in_cycle < 0) first_in_cycle <= cycle;
                fetch();
                if (!have_word) input_done = 1'b1;
            end
            if (m_tvalid && m_tready) begin
                $fwrite(out_fd, "%0d %h\n", cycle, m_tdata);
                n_seen = n_seen + 1;
                if (n_seen == n_out) begin
                    $fwrite(out_fd, "# first_in %0d end %0d\n", first_in_cycle, cycle);
                    $fclose(out_fd);
                    $finish;
                end
            end
            if (cycle >= max_cycles) $fatal(1, "tb_stream: timeout after %0d cycles with %0d/%0d outputs", cycle, n_seen, n_out);
            lfsr = step(lfsr);
            // A presented word stays presented until accepted (AXI-Stream rule).
            if (!(s_tvalid && !s_tready)) begin
                s_tvalid <= !input_done && (lfsr % 100 >= gap_pct);
                s_tdata <= next_word;
            end
            m_tready <= ((lfsr >> 8) % 100 >= stall_pct);
        end
    end
endmodule
