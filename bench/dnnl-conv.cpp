// A standalone probe, not part of the library: how fast oneDNN (Debian libdnnl-dev 2.6, the
// convolution library Debian's libtorch links) runs the forward, backward-data and backward-weights
// passes of the speed issue's two convolutions (batch 128: 28×28×1 → 26×26×32 and 13×13×32 →
// 11×11×64, 3×3), next to bare OpenBLAS sgemm on the shapes of tripletjs's im2col products. Its
// figures decide whether binding oneDNN in the addon is worth it (BENCHMARKS.md, "oneDNN").
//
//   apt-get install libdnnl-dev libopenblas-dev
//   g++ -O2 -std=c++17 bench/dnnl-conv.cpp -o /tmp/dnnl-conv -ldnnl -lopenblas
//   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /tmp/dnnl-conv      (and 1)
//
#include <oneapi/dnnl/dnnl.hpp>
#include <cblas.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static const int WARM = 10, RUNS = 30;

static double median_ms(const std::function<void()> &f) {
    for (int i = 0; i < WARM; ++i) f();
    std::vector<double> t;
    for (int i = 0; i < RUNS; ++i) {
        auto a = std::chrono::steady_clock::now();
        f();
        auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
    std::sort(t.begin(), t.end());
    return 0.5 * (t[RUNS / 2 - 1] + t[RUNS / 2]);
}

static double csum(const memory &m) {
    const float *p = (const float *)m.get_data_handle();
    size_t n = m.get_desc().get_size() / sizeof(float);
    double a = 0; for (size_t i = 0; i < n; ++i) a += p[i];
    return a;
}

static void fill(memory &m, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    float *p = (float *)m.get_data_handle();
    size_t n = m.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; ++i) p[i] = d(g);
}

struct Geo { const char *name; int N, IC, IH, IW, OC, KH, KW; };

// Reorders timed as a group; returns total median and fills per-reorder medians.
struct ReorderSet {
    std::vector<std::pair<std::string, std::function<void()>>> ops;
};

static void run_geo(const Geo &g, engine &eng, stream &s, bool any) {
    int OH = g.IH - g.KH + 1, OW = g.IW - g.KW + 1;
    memory::dims src_d = {g.N, g.IC, g.IH, g.IW};
    memory::dims wei_d = {g.OC, g.IC, g.KH, g.KW};
    memory::dims bia_d = {g.OC};
    memory::dims dst_d = {g.N, g.OC, OH, OW};
    memory::dims strides = {1, 1}, pad = {0, 0};

    // user memories (fixed formats)
    auto u_src_md = memory::desc(src_d, dt::f32, tag::nhwc);
    auto u_wei_md = memory::desc(wei_d, dt::f32, tag::hwio);
    auto u_bia_md = memory::desc(bia_d, dt::f32, tag::x);
    auto u_dst_md = memory::desc(dst_d, dt::f32, tag::nhwc);
    memory u_src(u_src_md, eng), u_wei(u_wei_md, eng), u_bia(u_bia_md, eng),
            u_dst(u_dst_md, eng), u_dsrc(u_src_md, eng), u_dwei(u_wei_md, eng),
            u_dbia(u_bia_md, eng), u_ddst(u_dst_md, eng);
    fill(u_src, 1); fill(u_wei, 2); fill(u_bia, 3); fill(u_ddst, 4);

    tag t_act = any ? tag::any : tag::nhwc;
    tag t_wei = any ? tag::any : tag::hwio;
    auto p_src_md = memory::desc(src_d, dt::f32, t_act);
    auto p_wei_md = memory::desc(wei_d, dt::f32, t_wei);
    auto p_dst_md = memory::desc(dst_d, dt::f32, t_act);
    auto p_bia_md = memory::desc(bia_d, dt::f32, tag::x);

    const char *variant = any ? "any" : "fixed";

    // ---------- forward (bias + ReLU post-op) ----------
    post_ops po;
    po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.f, 0.f);
    primitive_attr attr;
    attr.set_post_ops(po);
    auto fwd_d = convolution_forward::desc(prop_kind::forward_training,
            algorithm::convolution_direct, p_src_md, p_wei_md, p_bia_md,
            p_dst_md, strides, pad, pad);
    auto fwd_pd = convolution_forward::primitive_desc(fwd_d, attr, eng);
    // hint without post-ops for backward
    auto fwd_hint_pd = convolution_forward::primitive_desc(fwd_d, eng);

    // ---------- backward data ----------
    auto bwd_d_d = convolution_backward_data::desc(algorithm::convolution_direct,
            p_src_md, p_wei_md, p_dst_md, strides, pad, pad);
    auto bwd_d_pd = convolution_backward_data::primitive_desc(bwd_d_d, eng, fwd_hint_pd);

    // ---------- backward weights ----------
    auto bwd_w_d = convolution_backward_weights::desc(algorithm::convolution_direct,
            p_src_md, p_wei_md, p_bia_md, p_dst_md, strides, pad, pad);
    auto bwd_w_pd = convolution_backward_weights::primitive_desc(bwd_w_d, eng, fwd_hint_pd);

    // helper: get primitive-format memory, plus reorder op if needed
    auto prep_in = [&](memory &user, const memory::desc &pmd, ReorderSet &rs,
                           const char *nm) -> memory {
        if (pmd == user.get_desc()) return user;
        memory m(pmd, eng);
        reorder r(user, m);
        rs.ops.push_back({std::string(nm), [r, &s, &user, m]() mutable {
                              r.execute(s, user, m); s.wait(); }});
        r.execute(s, user, m); s.wait();
        return m;
    };
    auto prep_out = [&](memory &user, const memory::desc &pmd, ReorderSet &rs,
                            const char *nm) -> memory {
        if (pmd == user.get_desc()) return user;
        memory m(pmd, eng);
        reorder r(m, user);
        rs.ops.push_back({std::string(nm), [r, &s, &user, m]() mutable {
                              r.execute(s, m, user); s.wait(); }});
        return m;
    };

    auto report = [&](const char *pass, const std::string &impl, double ms,
                          ReorderSet &rs) {
        double tot = 0;
        std::string det;
        if (!rs.ops.empty()) {
            // time the whole set as one unit
            tot = median_ms([&]() { for (auto &o : rs.ops) o.second(); });
            for (auto &o : rs.ops) {
                char b[96];
                snprintf(b, sizeof b, " %s=%.3f", o.first.c_str(), median_ms(o.second));
                det += b;
            }
        }
        printf("RESULT %s %s %-9s prim_ms=%.3f reorder_ms=%.3f [%s ] impl=%s\n",
                g.name, variant, pass, ms, tot, det.c_str(), impl.c_str());
        fflush(stdout);
    };

    // forward
    {
        ReorderSet rs;
        memory src = prep_in(u_src, fwd_pd.src_desc(), rs, "src");
        memory wei = prep_in(u_wei, fwd_pd.weights_desc(), rs, "wei");
        memory dst = prep_out(u_dst, fwd_pd.dst_desc(), rs, "dst");
        convolution_forward p(fwd_pd);
        std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src},
                {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, u_bia}, {DNNL_ARG_DST, dst}};
        double ms = median_ms([&]() { p.execute(s, args); s.wait(); });
        report("fwd", fwd_pd.impl_info_str(), ms, rs);
        printf("CHECK %s %s fwd sum(dst)=%.6g\n", g.name, variant, csum(u_dst));
    }
    // backward data
    {
        ReorderSet rs;
        memory ddst = prep_in(u_ddst, bwd_d_pd.diff_dst_desc(), rs, "ddst");
        memory wei = prep_in(u_wei, bwd_d_pd.weights_desc(), rs, "wei");
        memory dsrc = prep_out(u_dsrc, bwd_d_pd.diff_src_desc(), rs, "dsrc");
        convolution_backward_data p(bwd_d_pd);
        std::unordered_map<int, memory> args = {{DNNL_ARG_DIFF_DST, ddst},
                {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc}};
        double ms = median_ms([&]() { p.execute(s, args); s.wait(); });
        report("bwd_data", bwd_d_pd.impl_info_str(), ms, rs);
        printf("CHECK %s %s bwd_data sum(dsrc)=%.6g\n", g.name, variant, csum(u_dsrc));
    }
    // backward weights (+ bias grad)
    {
        ReorderSet rs;
        memory src = prep_in(u_src, bwd_w_pd.src_desc(), rs, "src");
        memory ddst = prep_in(u_ddst, bwd_w_pd.diff_dst_desc(), rs, "ddst");
        memory dwei = prep_out(u_dwei, bwd_w_pd.diff_weights_desc(), rs, "dwei");
        memory dbia = u_dbia;
        if (bwd_w_pd.diff_bias_desc() != u_dbia.get_desc())
            dbia = memory(bwd_w_pd.diff_bias_desc(), eng);
        convolution_backward_weights p(bwd_w_pd);
        std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src},
                {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwei},
                {DNNL_ARG_DIFF_BIAS, dbia}};
        double ms = median_ms([&]() { p.execute(s, args); s.wait(); });
        report("bwd_wei", bwd_w_pd.impl_info_str(), ms, rs);
        printf("CHECK %s %s bwd_wei sum(dwei)=%.6g sum(dbias)=%.6g\n", g.name, variant, csum(u_dwei), csum(dbia));
    }
}

static void run_sgemm() {
    struct S { const char *name; int M, N, K; bool ta, tb; };
    S cases[] = {
        {"L2_fwd      A*B    M=15488 N=64  K=288  ", 15488, 64, 288, false, false},
        {"L2_bwd_wei  A^T*B  M=288   N=64  K=15488", 288, 64, 15488, true, false},
        {"L2_bwd_data A*B^T  M=15488 N=288 K=64   ", 15488, 288, 64, false, true},
        {"L1_fwd      A*B    M=86528 N=32  K=9    ", 86528, 32, 9, false, false},
    };
    std::mt19937 g(7);
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    for (auto &c : cases) {
        // row-major. op(A) is MxK, op(B) is KxN.
        std::vector<float> A((size_t)c.M * c.K), B((size_t)c.K * c.N), C((size_t)c.M * c.N);
        for (auto &x : A) x = d(g);
        for (auto &x : B) x = d(g);
        int lda = c.ta ? c.M : c.K;
        int ldb = c.tb ? c.K : c.N;
        double ms = median_ms([&]() {
            cblas_sgemm(CblasRowMajor, c.ta ? CblasTrans : CblasNoTrans,
                    c.tb ? CblasTrans : CblasNoTrans, c.M, c.N, c.K, 1.f,
                    A.data(), lda, B.data(), ldb, 0.f, C.data(), c.N);
        });
        double gflops = 2.0 * c.M * c.N * c.K / (ms * 1e6);
        printf("SGEMM %s ms=%.3f (%.1f GFLOP/s)\n", c.name, ms, gflops);
        fflush(stdout);
    }
}

int main(int argc, char **argv) {
    bool do_dnnl = true, do_blas = true;
    if (argc > 1 && !strcmp(argv[1], "dnnl")) do_blas = false;
    if (argc > 1 && !strcmp(argv[1], "blas")) do_dnnl = false;
    printf("oneDNN %d.%d.%d  openblas_threads=%d\n", dnnl_version()->major,
            dnnl_version()->minor, dnnl_version()->patch, openblas_get_num_threads());
    if (do_dnnl) {
        engine eng(engine::kind::cpu, 0);
        stream s(eng);
        Geo geos[] = {{"L1", 128, 1, 28, 28, 32, 3, 3}, {"L2", 128, 32, 13, 13, 64, 3, 3}};
        for (bool any : {false, true})
            for (auto &g : geos) run_geo(g, eng, s, any);
    }
    if (do_blas) run_sgemm();
    return 0;
}
