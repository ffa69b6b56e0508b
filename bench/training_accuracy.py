#!/usr/bin/env python3
"""Predicted against published training throughput: each case runs
`scalepath train` with the published layout, every other parameter taken
from the platform file and the model file, and prints the prediction beside
the published figure, with the error. Nothing here is fitted.

    python3 bench/training_accuracy.py [--quick] [--only TEXT] [--scalepath build/sim/scalepath]

--quick skips the 16,384-GPU context-parallel case and MLPerf v5.0's 405B
cases (the H100 one takes about 7 minutes).

Like is compared with like. NVIDIA's Megatron-Bridge tables publish tokens
per second per GPU, so those cases compare tokens/s: their "model TFLOP/s"
count attention with the causal half (Megatron's formula), ours without it
(PaLM's, 6N + 12 L q s), which for Llama 3 8B at 8K tokens is 12% apart.
Meta publishes TFLOP/s only and does not say how it counts them, so the
Llama 3 cases compare TFLOP/s under both counts: PaLM's (the whole score
matrix) and Megatron-LM's (the causal half), printed side by side.

Where the source leaves a setting unpublished, the case says what was
assumed. Meta does not give the micro-batch size of Llama 3 405B: it is 1.
Nor does it give the number of virtual pipeline stages V, but section 3.3.2
of arXiv 2407.21783 implies it: one layer was taken from the first and the
last of the 16 stages, "this means that the first model chunk on the first
stage has only the embedding, and the last model chunk on the last stage
has only output projection and loss calculation". A chunk that loses its
one layer held one, so V = 128 / 16 = 8 chunks of one layer. Plain 1F1B is
printed as a sensitivity line.

FP8 weights as each run kept them: Megatron-Bridge's FP8 recipes store the
weights in FP8 (`fp8_param_gather = True` in bf16_with_fp8_current_scaling_mixed,
..._delayed_scaling_mixed and bf16_with_mxfp8_mixed, src/megatron/bridge/
training/mixed_precision.py), so those cases pass --fp8-params, and the
Megatron-FSDP one --no-weight-cache too (the perf scripts' FSDP overrides set
keep_fp8_transpose_cache = False); NVIDIA's MLPerf LoRA runs set
fp8_params and disable_parameter_transpose_cache (--no-weight-cache).

MLPerf Training's LoRA benchmark (Llama 2 70B, adapters on the attention
layers) is compared in tokens/s: each run logs its training samples per
second, and a sample is a sequence packed to 8,192 tokens.

Last, a published sweep on one DGX Spark (a 354M GPT, 16 micro-batch x
sequence x precision configurations) is compared configuration by
configuration, tokens/s and peak memory."""
import argparse
import os
import re
import subprocess
import sys
import time

M405 = "workloads/models/llama3-405b.cfg"
M70 = "workloads/models/llama3-70b.cfg"
M8 = "workloads/models/llama3-8b.cfg"
Q30 = "workloads/models/qwen3-30b-a3b.cfg"
Q235 = "workloads/models/qwen3-235b-a22b.cfg"
LLAMA3 = "Llama 3 paper, arXiv 2407.21783, table 4 (BF16)"
BRIDGE = ("NVIDIA Megatron-Bridge docs/performance-summary-archive.md, 25.11 container (FP8; MoE: "
          "forced balanced routing, dropless)")
BRIDGE_2509 = ("NVIDIA Megatron-Bridge docs/performance-summary-archive.md, 25.09 container (FP8, current "
               "scaling; MoE rows marked \"(tokendrop)\": token dropping with forced balanced routing)")
BRIDGE_2602 = ("NVIDIA Megatron-Bridge docs/performance-summary-archive.md, 26.02 container (FP8, current "
               "scaling)")
MLPERF_H100 = ("MLPerf Training v4.0, NVIDIA, llama2_70b_lora on 1xDGX H100 (mlcommons/training_results_v4.0 @ 62f111b7: "
               "NVIDIA/results/eos_ngc24.04_nemo/llama2_70b_lora/result_0.txt, the run's final tracked_stats throughput "
               "2.1552 samples/s of 8,192 tokens; layout NVIDIA/benchmarks/llama2_70b_lora/implementations/nemo/"
               "config_DGXH100_1x8x4xtp4pp1cp1.sh, configs/config_common.sh, conf/megatron_gpt_peft_tuning_config.yaml)")
MLPERF_B200 = ("MLPerf Training v4.1 (preview), NVIDIA, llama2_70b_lora on 1xNVIDIA HGX B200 (swsok/training_results_v4.1 @ "
               "8821c703: NVIDIA/results/b200_preview_nemo/llama2_70b_lora/result_0.txt, final throughput 4.6995 "
               "samples/s; layout NVIDIA/benchmarks/llama2_70b_lora/implementations/b200_preview_nemo/"
               "config_DGXB200_1x8x2xtp1pp1cp2.sh and its yaml)")
MLPERF_LAMBDA = ("Lambda's runs of NVIDIA's MLPerf Training v4.0 NeMo implementation, llama2_70b_lora on one "
                 "8 x H100 SXM node "
                 "(LambdaLabsML/training_results_v4.0 @ 843db771: Lambda/benchmarks/llama2_70b_lora/implementations/"
                 "nemo/results/1cc_1x8x4xtp4pp1cp1_24-07-15_06-14-26/240715061428333683371_1.log, final tracked_stats "
                 "throughput 1.9258 samples/s (run 5: 1.9365); layout configs/config_1cc_1x8x4xtp4pp1cp1.sh, "
                 "TP_COMM_OVERLAP=False; not an MLCommons-reviewed result)")
MLPERF_LAMBDA_16 = ("Lambda's runs of NVIDIA's MLPerf Training v4.0 NeMo implementation, llama2_70b_lora on two "
                    "8 x H100 SXM nodes "
                    "(LambdaLabsML/training_results_v4.0 @ f8c89dc7: Lambda/benchmarks/llama2_70b_lora/implementations/"
                    "nemo/results/1cc_2x8x4xtp4pp1cp2_24-07-23_04-59-59/240723050000305568866_1.log, final "
                    "tracked_stats throughput 2.6073 samples/s; layout configs/config_1cc_2x8x4xtp4pp1cp2.sh; on 4 "
                    "nodes, DP 4, 5.135 samples/s: 1.5% less per GPU; not an MLCommons-reviewed result)")
MLPERF_H100_1024 = ("MLPerf Training v4.0, NVIDIA, llama2_70b_lora on 128xDGX H100 (mlcommons/training_results_v4.0 @ "
                    "62f111b7: NVIDIA/results/eos_n128_ngc24.04_nemo/llama2_70b_lora/result_0.txt; layout "
                    "NVIDIA/benchmarks/llama2_70b_lora/implementations/nemo/config_DGXH100_128x8x1xtp4pp1cp2.sh)")
MLPERF5_H100 = ("MLPerf Training v5.0, NVIDIA, llama31_405b on 64xDGX H100 (mlcommons results as mirrored in "
                "prishajain1/training_results_v5.0 @ 0fdc28f0: NVIDIA/results/eos-dfw_n64_ngc25.01_nemo/llama31_405b/"
                "result_0.txt, the last block's tracked_stats throughput 20.855 samples/s of 8,192 tokens "
                "(train_step_time 55.24 s for 1,152 samples); layout NVIDIA/benchmarks/llama31_405b/implementations/"
                "eos-dfw_n64_ngc25.01_nemo/config_DGXH100_64x8x288xtp8pp8cp2.sh and the config_common.sh it sources "
                "(as stored beside the 304-node config; the 64-node folder's copy is not in the mirror))")
MLPERF5_GB200 = ("MLPerf Training v5.0, NVIDIA, llama31_405b on 64 GB200 trays (256 GPUs; prishajain1/"
                 "training_results_v5.0 @ 0fdc28f0: NVIDIA/results/tyche_ngpu256_ngc25.04_nemo/llama31_405b/"
                 "result_0.txt, train_step_time about 19.2 s for 448 samples of 8,192 tokens over the run's last "
                 "steps (19.13-19.93 s); layout NVIDIA/benchmarks/llama31_405b/implementations/"
                 "tyche_ngpu256_ngc25.04_nemo/config_GB200_64x4x112xtp4pp8cp2_cg.sh, its config_common.sh and "
                 "config_common_cg.sh, and config_common_blackwell.sh as stored beside the 512-GPU config)")
MLPERF5_NOTE = ("distributed optimizer as ZeRO-1; FP8 weights (FP8_PARAMS / FP8_PARAM_GATHER); TP overlap "
                "(TP_COMM_OVERLAP=True); the embedding and the loss each counted as a layer in the pipeline split "
                "(ASYM_PP_EMBED/LOSS: 126 layers + 2 over 64 chunks, the first and last one layer each, as the "
                "split here gives); "
                "context parallel as Megatron-core's default ring (p2p; the configs set no method); "
                "NCCL_NVLS_ENABLE=0 and per-communicator CTA settings not modelled; folded")
M2_70 = "workloads/models/llama2-70b.cfg"
MLPERF_NOTE = ("adapters on attention (qkv, proj), rank 16, dropout 0.1 before them; FP8 attention (FP8_DPA) "
               "not modelled (bf16 here); "
               "weights in FP8 and quantized each micro-batch, as the run (fp8_params, "
               "disable_parameter_transpose_cache); the adapters' output exchanged all-to-all (LORA_A2A=1 in "
               "the runs' common configuration)")
TF, TOK, TFC = "TFLOP/s", "tokens/s", "causal"
STATION_TE = ("catid/dgx_station_benchmarks @ 0e28fece, transformer-engine-training/README.md (bf16, batch 64 per "
              "rank: 533.638 ms a step, 245,620 tokens/s on one DGX Station; batches 8, 16, 32: 245,379, 244,523, "
              "246,731) and recipes/benchmark_te_training.py (the workload: workloads/models/te-decoder-973m.cfg); "
              "NVIDIA PyTorch 26.07, Transformer Engine 2.18")
TE973 = "workloads/models/te-decoder-973m.cfg"
LLAMA3_V8 = "micro-batch 1, 8 virtual stages of one layer (section 3.3.2)"

# The MoE layouts of NVIDIA's tables (the same in 25.09 and 25.11).
QWEN30_H100 = ["-p", "platforms/superpod-h100.cfg", "-n", "2", "-m", Q30, "--pp", "2", "--vpp", "24", "--ep", "8",
               "--seq", "4096", "--gbs", "512", "--mbs", "2", "--zero", "1", "--precision", "fp8", "--fp8-params"]
QWEN30_B200 = ["-p", "platforms/dgx-b200.cfg", "-m", Q30, "--ep", "8", "--seq", "4096", "--gbs", "512", "--mbs", "1",
               "--zero", "1", "--precision", "fp8", "--fp8-params"]
QWEN235_B200 = ["-p", "platforms/superpod-b200.cfg", "-n", "8", "-m", Q235, "--pp", "8", "--vpp", "2", "--ep", "8",
                "--seq", "4096", "--gbs", "1024", "--mbs", "1", "--zero", "1", "--precision", "fp8", "--fp8-params"]

# GB200 NVL72: our platform is whole racks of 72 GPUs, so each case runs
# NVIDIA's per-GPU work (micro-batch, micro-batches per pipeline, TP/PP/VP)
# on whole racks, with more data-parallel replicas: 405B on 8 racks.
GB200_405B = ["-p", "platforms/gb200-nvl72.cfg", "-n", "8", "-m", M405, "--tp", "4", "--pp", "16", "--vpp", "4",
              "--seq", "8192", "--gbs", "3456", "--zero", "1", "--precision", "fp8", "--fp8-params", "--fold", "on"]
GB200_405B_NOTE = "distributed optimizer as ZeRO-1; 576 GPUs (DP 9), GBS 3,456: 384 micro-batches as published; folded"

# (name, published per-GPU figure, its unit, source, assumption, scalepath train arguments)
CASES = [
    ("405B, 8,192 H100, TP8 PP16 DP64, seq 8K", 430.0, TF, LLAMA3, LLAMA3_V8,
     ["-p", "platforms/superpod-h100.cfg", "-n", "1024", "-m", M405, "--tp", "8", "--pp", "16",
      "--vpp", "8", "--seq", "8192", "--gbs", "2048", "--zero", "2", "--grad-fp32"]),
    ("405B, 16,384 H100, TP8 PP16 DP128, seq 8K", 400.0, TF, LLAMA3, LLAMA3_V8,
     ["-p", "platforms/superpod-h100.cfg", "-n", "2048", "-m", M405, "--tp", "8", "--pp", "16",
      "--vpp", "8", "--seq", "8192", "--gbs", "2048", "--zero", "2", "--grad-fp32"]),
    ("405B, 16,384 H100, TP8 CP16 PP16 DP8, seq 128K", 380.0, TF, LLAMA3, LLAMA3_V8,
     ["-p", "platforms/superpod-h100.cfg", "-n", "2048", "-m", M405, "--tp", "8", "--cp", "16", "--pp", "16",
      "--vpp", "8", "--seq", "131072", "--gbs", "128", "--zero", "2", "--grad-fp32"]),
    ("8B, 8 H100, FSDP, seq 8K, GBS 128, FP8", 14451.0, TOK, BRIDGE,
     "FSDP as ZeRO-3; FP8 transposes not kept (Megatron-FSDP's keep_fp8_transpose_cache = False)",
     ["-p", "platforms/dgx-h100.cfg", "-m", M8, "--seq", "8192", "--gbs", "128", "--zero", "3",
      "--precision", "fp8", "--fp8-params", "--no-weight-cache"]),
    ("70B, 64 H100, TP4 PP8 VP5, seq 8K, GBS 128, FP8", 1602.0, TOK, BRIDGE, "distributed optimizer as ZeRO-1",
     ["-p", "platforms/superpod-h100.cfg", "-n", "8", "-m", M70, "--tp", "4", "--pp", "8", "--vpp", "5",
      "--seq", "8192", "--gbs", "128", "--zero", "1", "--precision", "fp8", "--fp8-params"]),
    ("8B, 8 B200, MBS 2, seq 8K, GBS 128, FP8", 30624.0, TOK, BRIDGE, "distributed optimizer as ZeRO-1",
     ["-p", "platforms/dgx-b200.cfg", "-m", M8, "--seq", "8192", "--gbs", "128", "--mbs", "2", "--zero", "1",
      "--precision", "fp8", "--fp8-params"]),
    ("405B, 1,024 H100, TP8 PP8 CP2 VP8, seq 8K, GBS 512, FP8", 292.0, TOK, BRIDGE,
     "distributed optimizer as ZeRO-1; one DP replica folded; context parallel as Megatron-core's default ring (p2p)",
     ["-p", "platforms/superpod-h100.cfg", "-n", "128", "-m", M405, "--tp", "8", "--pp", "8", "--cp", "2",
      "--cp-comm-type", "p2p", "--vpp", "8", "--seq", "8192", "--gbs", "512", "--zero", "1", "--precision", "fp8", "--fp8-params",
      "--fold", "on"]),
    ("405B, 128 B200, TP4 PP8 CP2 VP8, seq 8K, GBS 64, FP8", 661.0, TOK, BRIDGE,
     "distributed optimizer as ZeRO-1; one DP replica folded",
     ["-p", "platforms/superpod-b200.cfg", "-n", "16", "-m", M405, "--tp", "4", "--pp", "8", "--cp", "2",
      "--vpp", "8", "--seq", "8192", "--gbs", "64", "--zero", "1", "--precision", "fp8", "--fp8-params",
      "--fold", "on"]),
    ("Qwen3 30B-A3B MoE, 16 H100, PP2 VP24 EP8, seq 4K, FP8", 5275.0, TOK, BRIDGE,
     "distributed optimizer as ZeRO-1; balanced routing", QWEN30_H100),
    ("Qwen3 30B-A3B MoE, 8 B200, EP8, seq 4K, FP8-MX", 9299.0, TOK, BRIDGE,
     "MXFP8 as FP8; distributed optimizer as ZeRO-1; balanced routing", QWEN30_B200),
    ("Qwen3 235B-A22B MoE, 64 B200, PP8 VP2 EP8, seq 4K, FP8-MX", 3269.0, TOK, BRIDGE,
     "MXFP8 as FP8; distributed optimizer as ZeRO-1; balanced routing", QWEN235_B200),
    # GB200 NVL72, on whole racks (GB200_405B above).
    ("8B, 8 GB200 (run on one NVL72 rack), MBS 2, seq 8K, FP8", 31508.0, TOK, BRIDGE,
     "distributed optimizer as ZeRO-1; 72 GPUs, GBS 1,152: 8 micro-batches per GPU as published",
     ["-p", "platforms/gb200-nvl72.cfg", "-n", "1", "-m", M8, "--seq", "8192", "--gbs", "1152", "--mbs", "2",
      "--zero", "1", "--precision", "fp8", "--fp8-params"]),
    ("405B, 256 GB200 (run on 8 racks), TP4 PP16 VP4, seq 8K, FP8", 813.0, TOK, BRIDGE,
     GB200_405B_NOTE, GB200_405B),
    # The next release's table, the same dense H100 layouts with larger global batches.
    ("70B, 64 H100, TP4 PP8 VP5, seq 8K, GBS 256, FP8 (26.02)", 1621.0, TOK, BRIDGE_2602,
     "distributed optimizer as ZeRO-1",
     ["-p", "platforms/superpod-h100.cfg", "-n", "8", "-m", M70, "--tp", "4", "--pp", "8", "--vpp", "5",
      "--seq", "8192", "--gbs", "256", "--zero", "1", "--precision", "fp8", "--fp8-params"]),
    ("405B, 1,024 H100, TP8 PP8 CP2 VP8, seq 8K, GBS 1536, FP8 (26.02)", 311.0, TOK, BRIDGE_2602,
     "distributed optimizer as ZeRO-1; one DP replica folded; context parallel as Megatron-core's default ring (p2p)",
     ["-p", "platforms/superpod-h100.cfg", "-n", "128", "-m", M405, "--tp", "8", "--pp", "8", "--cp", "2",
      "--cp-comm-type", "p2p", "--vpp", "8", "--seq", "8192", "--gbs", "1536", "--zero", "1", "--precision", "fp8", "--fp8-params",
      "--fold", "on"]),
    ("405B, 256 GB200 (run on 8 racks), TP4 PP16 VP4, seq 8K, FP8 (26.02)", 793.0, TOK, BRIDGE_2602,
     GB200_405B_NOTE, GB200_405B),
    # MLPerf Training's LoRA benchmark (Llama 2 70B, GovReport packed to 8,192
    # tokens a sample, global batch 8): samples/s x 8,192 / 8 GPUs.
    ("Llama 2 70B LoRA, 8 H100, TP4 SP, FP8, MLPerf v4.0", 2.1552 * 8192 / 8, TOK, MLPERF_H100,
     MLPERF_NOTE + "; TP overlap as the run's userbuffers; vboost not modelled",
     ["-p", "platforms/dgx-h100.cfg", "-m", M2_70, "--tp", "4", "--seq", "8192", "--gbs", "8", "--mbs", "1",
      "--finetune", "lora", "--lora-rank", "16", "--lora-targets", "attention", "--lora-dropout", "0.1",
      "--precision", "fp8", "--fp8-params", "--no-weight-cache", "--tp-overlap", "--lora-a2a"]),
    # The same benchmark and code on an HGX H100 node of Lambda's, without TP
    # communication overlap (its configuration turns it off).
    ("Llama 2 70B LoRA, 8 H100 (Lambda), TP4 SP, no TP overlap, FP8", 1.9258 * 8192 / 8, TOK, MLPERF_LAMBDA,
     MLPERF_NOTE + "; vboost not modelled",
     ["-p", "platforms/dgx-h100.cfg", "-m", M2_70, "--tp", "4", "--seq", "8192", "--gbs", "8", "--mbs", "1",
      "--finetune", "lora", "--lora-rank", "16", "--lora-targets", "attention", "--lora-dropout", "0.1",
      "--precision", "fp8", "--fp8-params", "--no-weight-cache", "--lora-a2a"]),
    # Lambda's two nodes, context parallel as NVIDIA's 1,024-GPU run, without
    # TP overlap: the CP group sits within a node, DP across the two.
    ("Llama 2 70B LoRA, 16 H100 (Lambda), TP4 CP2 DP2, no TP overlap, FP8", 2.6073 * 8192 / 16, TOK,
     MLPERF_LAMBDA_16,
     MLPERF_NOTE + "; context parallel as TE 1.6's ring (the only method it has); InfiniBand as a SuperPOD's; "
     "FP8 amax reduction (FP8_REDUCE_AMAX=True) not modelled; vboost not modelled",
     ["-p", "platforms/superpod-h100.cfg", "-n", "2", "-m", M2_70, "--tp", "4", "--cp", "2", "--cp-comm-type", "p2p",
      "--seq", "8192",
      "--gbs", "8", "--mbs", "1", "--finetune", "lora", "--lora-rank", "16", "--lora-targets", "attention",
      "--lora-dropout", "0.1", "--precision", "fp8", "--fp8-params", "--no-weight-cache", "--lora-a2a"]),
    # The same round on 128 DGX H100: one micro-batch per replica and step.
    # Its log's throughput is per block: 163.9 samples/s over the first 57
    # steps (with the first step's one-time costs), then ten blocks of 3
    # steps at 169.8-197.1, whose median (194.6) is the figure here.
    ("Llama 2 70B LoRA, 1,024 H100, TP4 CP2 DP128, FP8, MLPerf v4.0", 194.6 * 8192 / 1024, TOK, MLPERF_H100_1024,
     MLPERF_NOTE + "; one micro-batch per step; median of the 3-step blocks (first 57 steps: 164 samples/s); "
     "context parallel as TE 1.6's ring (the only method it has); SHARP not modelled; folded",
     ["-p", "platforms/superpod-h100.cfg", "-n", "128", "-m", M2_70, "--tp", "4", "--cp", "2", "--cp-comm-type", "p2p",
      "--seq", "8192",
      "--gbs", "128", "--mbs", "1", "--finetune", "lora", "--lora-rank", "16", "--lora-targets", "attention",
      "--lora-dropout", "0.1", "--precision", "fp8", "--fp8-params", "--no-weight-cache", "--tp-overlap",
      "--lora-a2a", "--fold", "on"]),
    # MLPerf Training v5.0's Llama 3.1 405B pretraining: samples/s x 8,192 / GPUs.
    ("405B, 512 H100, TP8 PP8 CP2 VP8, GBS 1152, FP8, MLPerf v5.0", 20.855 * 8192 / 512, TOK, MLPERF5_H100,
     MLPERF5_NOTE,
     ["-p", "platforms/superpod-h100.cfg", "-n", "64", "-m", M405, "--tp", "8", "--pp", "8", "--cp", "2",
      "--cp-comm-type", "p2p", "--vpp", "8", "--seq", "8192", "--gbs", "1152", "--zero", "1", "--precision", "fp8",
      "--fp8-params", "--tp-overlap", "--fold", "on"]),
    # GB200: run on 8 NVL72 racks as GB200_405B, TP4 x CP2 x DP9 = 72 GPUs
    # a stage (each rack one pipeline stage of all nine replicas), and 9 x
    # 112 sequences for 112 micro-batches per replica as published (DP 4,
    # GBS 448).
    ("405B, 256 GB200 (run on 8 racks), TP4 PP8 CP2 VP8, FP8, MLPerf v5.0", 448 * 8192 / 19.2 / 256, TOK,
     MLPERF5_GB200, MLPERF5_NOTE + "; delayed scaling (FP8_RECIPE) as FP8; CUDA graphs; 576 GPUs (DP 9), GBS 1,008: "
     "112 micro-batches as published",
     ["-p", "platforms/gb200-nvl72.cfg", "-n", "8", "-m", M405, "--tp", "4", "--pp", "8", "--cp", "2",
      "--cp-comm-type", "p2p", "--vpp", "8", "--seq", "8192", "--gbs", "1008", "--zero", "1", "--precision", "fp8",
      "--fp8-params", "--tp-overlap", "--fold", "on"]),
    ("TE decoder stack 973M, 1 DGX Station, seq 2K, MBS 64, bf16", 245620.0, TOK, STATION_TE,
     "bf16 weights and fused AdamW's moments, no master copy (--adam pure-bf16); one micro-batch per step",
     ["-p", "platforms/dgx-station.cfg", "-m", TE973, "--seq", "2048", "--mbs", "64", "--microbatches", "1",
      "--adam", "pure-bf16"]),
    ("Llama 2 70B LoRA, 8 B200, CP2, FP8, MLPerf v4.1 preview", 4.6995 * 8192 / 8, TOK, MLPERF_B200,
     MLPERF_NOTE + "; context parallel as the run's all-to-all (cp_comm_type a2a); CUDA graphs",
     ["-p", "platforms/dgx-b200.cfg", "-m", M2_70, "--cp", "2", "--cp-comm-type", "a2a", "--seq", "8192", "--gbs", "8",
      "--mbs", "1",
      "--finetune", "lora", "--lora-rank", "16", "--lora-targets", "attention", "--lora-dropout", "0.1",
      "--precision", "fp8", "--fp8-params", "--no-weight-cache", "--lora-a2a"]),
    # The same three layouts in the previous release's table, which ran MoE
    # with token dropping: the same work under forced balanced routing (no
    # token is dropped when every expert gets its share), without the
    # host synchronisation that dropless routing needs each layer.
    ("Qwen3 30B-A3B MoE, 16 H100, as above, 25.09 (token dropping)", 10494.0, TOK, BRIDGE_2509,
     "distributed optimizer as ZeRO-1; balanced routing", QWEN30_H100),
    ("Qwen3 30B-A3B MoE, 8 B200, as above, 25.09 (token dropping)", 18066.0, TOK, BRIDGE_2509,
     "distributed optimizer as ZeRO-1; balanced routing", QWEN30_B200),
    ("Qwen3 235B-A22B MoE, 64 B200, as above, 25.09 (token dropping)", 4104.0, TOK, BRIDGE_2509,
     "distributed optimizer as ZeRO-1; balanced routing", QWEN235_B200),
]
SENSITIVITY = [
    ("405B, 8,192 H100, as above, plain 1F1B", 430.0, TF, LLAMA3, "micro-batch 1, plain 1F1B",
     CASES[0][5] + ["--vpp", "1"]),
    ("405B, 16,384 H100, as above, plain 1F1B", 400.0, TF, LLAMA3, "micro-batch 1, plain 1F1B",
     CASES[1][5] + ["--vpp", "1"]),
    ("405B, 16,384 H100, seq 128K, as above, plain 1F1B", 380.0, TF, LLAMA3, "micro-batch 1, plain 1F1B",
     CASES[2][5] + ["--vpp", "1"]),
    ("405B, 8,192 H100, as above, TP overlap", 430.0, TF, LLAMA3, LLAMA3_V8 + ", TP overlap",
     CASES[0][5] + ["--tp-overlap"]),
    ("405B, 16,384 H100, as above, TP overlap", 400.0, TF, LLAMA3, LLAMA3_V8 + ", TP overlap",
     CASES[1][5] + ["--tp-overlap"]),
]


# One DGX Spark pretraining a 354M GPT with Megatron-Core and Transformer
# Engine, one micro-batch per step, no parallelism: every micro-batch x
# sequence x precision of the sweep in manavsehgal/ai-field-notes,
# articles/baseline-training-loop-on-spark/evidence/sweep_results.json
# (random tokens, 30 steps, the first 5 left out; tokens/s and
# torch.cuda.max_memory_allocated in GiB), and the same loop re-run on real
# tokens for 8 of them (articles/nemo-curator-training-data-prep/evidence/
# data_sweep_results.json, "tokens_per_s_step_only").
SPARK_SRC = ("manavsehgal/ai-field-notes: articles/baseline-training-loop-on-spark/evidence/sweep_results.json "
             "(random tokens) and articles/nemo-curator-training-data-prep/evidence/data_sweep_results.json (real "
             "tokens), NeMo 26.04 container, TE 2.14")
M354 = "workloads/models/gpt-354m.cfg"
# (precision, sequence, micro-batch): tokens/s random, real (0: not re-run), peak GiB
SPARK_SWEEP = [
    ("bf16", 1024, 2, 11044.2, 0.0, 5.26), ("bf16", 1024, 4, 12640.8, 13158.3, 7.94),
    ("bf16", 1024, 8, 12819.0, 13482.1, 13.83), ("bf16", 1024, 16, 13626.0, 14422.3, 25.63),
    ("bf16", 2048, 2, 12421.8, 0.0, 7.95), ("bf16", 2048, 4, 12729.4, 13001.2, 13.85),
    ("bf16", 2048, 8, 13036.0, 0.0, 25.65), ("bf16", 2048, 16, 13035.8, 0.0, 49.24),
    ("fp8", 1024, 2, 11944.3, 0.0, 5.60), ("fp8", 1024, 4, 13462.3, 13921.1, 8.03),
    ("fp8", 1024, 8, 13776.7, 14393.9, 13.49), ("fp8", 1024, 16, 14265.7, 14980.5, 24.33),
    ("fp8", 2048, 2, 12873.2, 0.0, 8.05), ("fp8", 2048, 4, 13202.0, 13739.5, 13.52),
    ("fp8", 2048, 8, 13640.8, 0.0, 24.34), ("fp8", 2048, 16, 13370.0, 0.0, 46.06),
]


def sweep_point(exe, args):
    """One sweep point: (tokens/s, memory per GPU less the CUDA context, GB) or
    (None, the error's last line). torch's peak allocation, which the
    sweeps' sources report, excludes the context."""
    p = subprocess.run([exe, "train"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1:]
    got = float(re.search(r"tokens/s +([0-9.]+)", p.stdout).group(1))
    mem = re.search(r"memory per GPU +([0-9.]+) GB.*CUDA context and NCCL buffers ([0-9.]+)", p.stdout)
    return got, float(mem.group(1)) - float(mem.group(2))


def spark_sweep(exe):
    """The Spark sweep: predicted tokens/s and memory beside the measured."""
    import tempfile
    print("\nDGX Spark, GPT 354M pretraining, one GPU, one micro-batch per step, as the script trains it: "
          "bf16 weights and AdamW's moments, no master copy (--adam pure-bf16); F.cross_entropy on fp32 logits "
          "(--loss unfused):")
    print(f"  {'prec':4s} {'seq':>5s} {'mbs':>3s} {'measured':>9s} {'re-run':>7s} {'predicted':>9s} {'error':>7s}"
          f"   {'GiB meas':>8s} {'pred':>6s}")
    errs = []
    with tempfile.TemporaryDirectory() as tmp:
        models = {1024: M354}
        with open(M354) as f:  # the sweep builds its position table as long as the sequence
            text = f.read().replace("max_position_embeddings = 1024;", "max_position_embeddings = 2048;")
        models[2048] = os.path.join(tmp, "gpt-354m-2048.cfg")
        with open(models[2048], "w") as f:
            f.write(text)
        for prec, seq, mbs, tok, real, gib in SPARK_SWEEP:
            got, pred = sweep_point(exe, ["-p", "platforms/dgx-spark.cfg", "-m", models[seq], "--mbs", str(mbs),
                                          "--seq", str(seq), "--microbatches", "1", "--adam", "pure-bf16",
                                          "--precision", prec, "--loss", "unfused"])
            if got is None:
                print(f"  {prec:4s} {seq:5d} {mbs:3d}  failed: {pred}")
                continue
            pred_gib = pred * 1e9 / 2**30
            e = (got - tok) / tok * 100.0
            errs.append(e)
            print(f"  {prec:4s} {seq:5d} {mbs:3d} {tok:9.0f} {f'{real:.0f}' if real else '-':>7s} {got:9.0f} "
                  f"{e:+6.1f}%   {gib:8.2f} {pred_gib:6.2f}")
    if errs:
        errs.sort()
        print(f"  {len(errs)} configurations: error {errs[0]:+.1f}% to {errs[-1]:+.1f}%, median "
              f"{errs[len(errs) // 2]:+.1f}%")
    print(f"  source: {SPARK_SRC}")


# One DGX Station, the four-layer Transformer Engine stack in bf16, one
# micro-batch per step, at each batch the source ran (its results.csv: mean
# tokens/s and torch.cuda.max_memory_allocated in MiB).
STATION_SWEEP = [(8, 245378.614, 16488.704), (16, 244522.826, 27377.204), (32, 246731.030, 49154.204),
                 (64, 245619.529, 92708.204)]


def station_sweep(exe):
    """The Station sweep: predicted tokens/s and memory beside the measured."""
    print("\nDGX Station, TE decoder stack 973M, bf16, one micro-batch per step (--adam pure-bf16):")
    print(f"  {'mbs':>3s} {'measured':>9s} {'predicted':>9s} {'error':>7s}   {'GB meas':>7s} {'pred':>6s} {'error':>7s}")
    for mbs, tok, mib in STATION_SWEEP:
        got, pred_gb = sweep_point(exe, ["-p", "platforms/dgx-station.cfg", "-m", TE973, "--seq", "2048", "--mbs",
                                         str(mbs), "--microbatches", "1", "--adam", "pure-bf16"])
        if got is None:
            print(f"  {mbs:3d}  failed: {pred_gb}")
            continue
        gb = mib * 2**20 / 1e9
        print(f"  {mbs:3d} {tok:9.0f} {got:9.0f} {(got - tok) / tok * 100.0:+6.1f}%   {gb:7.2f} {pred_gb:6.2f} "
              f"{(pred_gb - gb) / gb * 100.0:+6.1f}%")


def run(exe, args):
    t0 = time.time()
    p = subprocess.run([exe, "train"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, None, time.time() - t0, p.stderr.strip().splitlines()[-1:]
    tf = float(re.search(r"model TFLOP/s/GPU +([0-9.]+)", p.stdout).group(1))
    tfc = float(re.search(r"causal count +([0-9.]+)", p.stdout).group(1))
    tok = float(re.search(r"tokens/s +[0-9.]+ \(([0-9.]+) per GPU\)", p.stdout).group(1))
    fits = "does NOT fit" not in p.stdout
    return {TF: tf, TFC: tfc, TOK: tok}, fits, time.time() - t0, []


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="run only the cases whose name contains TEXT (repeatable); no sweeps")
    ap.add_argument("--scalepath", default="build/sim/scalepath")
    a = ap.parse_args(argv)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    print(f"{'case':58s} {'published':>9s} {'predicted':>9s} {'per GPU':8s} {'error':>7s}  {'memory':7s} "
          f"{'wall':>5s}  assumed")
    print(f"{'':58s} {'':9s} {'(causal':>9s} {'count)':8s}")
    errors, causal = [], []
    for i, (name, pub, unit, src, assumed, args) in enumerate(CASES + SENSITIVITY):
        if a.only and not any(t in name for t in a.only):
            continue
        if a.quick and ("128K" in name or "MLPerf v5.0" in name):
            print(f"{name:58s} {pub:9.0f} {'skipped (--quick)':>18s}")
            continue
        got, fits, wall, err = run(a.scalepath, args)
        if got is None:
            print(f"{name:58s} {pub:9.0f}  failed: {' '.join(err)}")
            continue
        e = (got[unit] - pub) / pub * 100.0
        ec = (got[TFC] - pub) / pub * 100.0 if unit == TF else e
        if i < len(CASES):
            errors.append((name, e))
            causal.append((name, ec))
        print(f"{name:58s} {pub:9.0f} {got[unit]:9.1f} {unit:8s} {e:+6.1f}%  {'fits' if fits else 'NO FIT':7s} "
              f"{wall:4.0f}s  {assumed}")
        if unit == TF:
            print(f"{'':58s} {'':9s} {got[TFC]:9.1f} {'causal':8s} {ec:+6.1f}%")
    if not a.only:
        spark_sweep(a.scalepath)
        station_sweep(a.scalepath)
    print("\nsources:")
    for s in sorted({c[3] for c in CASES}):
        print("  " + s)
    for label, errs in (("PaLM's count for Meta's TFLOP/s", errors), ("the causal count for Meta's TFLOP/s", causal)):
        if errs:
            worst = max(errs, key=lambda x: abs(x[1]))
            print(f"\n{label}: {len(errs)} cases; within 15%: {sum(abs(e) <= 15 for _, e in errs)}; "
                  f"worst: {worst[0]} ({worst[1]:+.1f}%)", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
