# scalepath train: generated training steps replayed on the engine.
set(m8 workloads/models/llama3-8b.cfg)
set(m70 workloads/models/llama3-70b.cfg)
# Llama 3 8B, TP 8 on a DGX H100, 2 micro-batches. Operations per rank and
# micro-batch: embedding 1, per layer 6 forward (2 all-gathers, 2 GEMM
# blocks, 2 reduce-scatters) and 6 backward, the output layer's all-gather,
# forward, backward and reduce-scatter 4, embedding backward 1: 1 + 32 x 12
# + 4 + 1 = 390; two micro-batches and the optimizer: 781; 8 ranks: 6248.
add_test(NAME e2e.train.h100_tp8
  COMMAND ${SP_EXE} train -p platforms/dgx-h100.cfg -m ${m8} --tp 8 --seq 4096 --microbatches 2
          -o ${SP_OUT}/train.h5 --timeline ${SP_OUT}/train.json
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.h100_tp8 PROPERTIES PASS_REGULAR_EXPRESSION "10344 operations simulated.*MFU [0-9.]+%")
add_test(NAME e2e.train.read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_train.py
  ${SP_OUT}/train.h5 989.4e12)
add_test(NAME e2e.train.timeline COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_timeline.py
  ${SP_OUT}/train.json 8 10344)
set_tests_properties(e2e.train.read e2e.train.timeline PROPERTIES DEPENDS e2e.train.h100_tp8)
add_test(NAME e2e.train.deterministic
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=train|-p|platforms/dgx-spark-switch.cfg|-n|4|-m|${m8}|--pp|2|--seq|2048|--gbs|8|--zero|1|-o|${SP_OUT}/train-det.h5"
          -DOUT=${SP_OUT}/train-det.h5 -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/determinism.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.h100_tp8 e2e.train.read e2e.train.timeline e2e.train.deterministic
  PROPERTIES LABELS e2e)
# A pipeline of four Sparks behind a switch: every stage waits for the others (the bubble).
sp_e2e(train.spark_pipeline RC 0
  ARGS "train|-p|platforms/dgx-spark-switch.cfg|-n|4|-m|${m8}|--pp|4|--seq|2048|--gbs|16|--finetune|lora"
  STDOUT " 0 +0 +[0-9.]+ +0\\.000 +0\\.000 +0\\.000 +0\\.000 +[1-9][0-9]*\\.[0-9]+ +0\\.000")
# A full fine-tune of 70B does not fit in one Spark's 128 GB: said, with the numbers.
sp_e2e(train.70b_on_spark RC 0 ARGS "train|-p|platforms/dgx-spark.cfg|-m|${m70}|--seq|2048|--microbatches|1"
  STDOUT "of 128 GB: does NOT fit \\(weights 141\\.11, gradients 141\\.11, optimizer 846\\.64")
# The 354M GPT of the DGX Spark sweep (learned positions, dropout): its
# parameter count as its source gives it, and the memory with the dropout
# masks; a sequence longer than its position table is refused, with no file.
sp_e2e(train.gpt354m_spark RC 0
  ARGS "train|-p|platforms/dgx-spark.cfg|-m|workloads/models/gpt-354m.cfg|--mbs|16|--seq|1024|--microbatches|1|--adam|bf16"
  STDOUT "GPT 354M \\(0\\.35B parameters\\).*fits \\(weights 0\\.71, gradients 0\\.71, optimizer 2\\.84, activations 13\\.69, logits 4\\.94")
# A full fine-tune of Llama 3 8B in pure bf16 (no master weights, bf16
# moments: 8 B per parameter) fits one Spark, where mixed precision does not.
sp_e2e(memory.pure_bf16_spark RC 0
  ARGS "memory|-p|platforms/dgx-spark.cfg|-m|workloads/models/llama3-8b.cfg|--seq|2048|--recompute|full|--adam|pure-bf16"
  STDOUT "optimizer states +32\\.12 GB.*total +67\\.36 GB of 128 GB: fits")
# PyTorch's loss on fp32 logits holds 14 B per logit at its peak, Megatron-LM's 6.
sp_e2e(memory.unfused_loss RC 0
  ARGS "memory|-p|platforms/dgx-spark.cfg|-m|workloads/models/gpt-354m.cfg|--mbs|16|--seq|1024|--loss|unfused"
  STDOUT "logits \\(output layer\\) +11\\.53 GB \\(unfused loss\\)")
sp_e2e(train.loss_bad RC 2
  ARGS "train|-p|platforms/dgx-spark.cfg|-m|workloads/models/gpt-354m.cfg|--loss|fast|-o|${SP_OUT}/loss-bad.h5"
  STDERR "option --loss: expected fused or unfused, got \"fast\"" ABSENT "${SP_OUT}/loss-bad.h5")
sp_e2e(train.gpt354m_too_long RC 2
  ARGS "train|-p|platforms/dgx-spark.cfg|-m|workloads/models/gpt-354m.cfg|--seq|2048|-o|${SP_OUT}/gpt-long.h5"
  STDERR "sequence 2048 is longer than the model's 1024 learned positions" ABSENT "${SP_OUT}/gpt-long.h5")
# Folding one data-parallel replica gives the unfolded step where DP groups ride separate rails.
add_test(NAME e2e.train.fold_dp
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=train|-p|platforms/superpod-h100.cfg|-n|4|-m|${m8}|--tp|8|--seq|4096|--gbs|8|--zero|1"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fold.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.fold_dp PROPERTIES LABELS e2e TIMEOUT 300)
# --gemms lists the layer's GEMMs without simulating, and nothing is
# written; the shapes the H100's table measured get back their measured
# throughput.
sp_e2e(train.gemms RC 0
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|8|--seq|4096|--gemms|-o|${SP_OUT}/gemms.h5"
  STDOUT "mlp.down +fwd +bf16 +4096 +4096 +1792 .*# total .*one layer, us: +forward [0-9.]+ = GEMMs [0-9.]+ \\+ attention [0-9.]+ \\+ element-wise"
  ABSENT "${SP_OUT}/gemms.h5")
add_test(NAME e2e.train.gemms_measured
  COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_gemms.py ${SP_EXE} platforms/include/gpus.cfg
          -p platforms/dgx-h100.cfg -m ${m8} --tp 8 --seq 4096
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.train.gemms_measured_fp8
  COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_gemms.py ${SP_EXE} platforms/include/gpus.cfg
          -p platforms/dgx-h100.cfg -m ${m8} --tp 8 --seq 4096 --precision fp8
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.gemms_measured e2e.train.gemms_measured_fp8 PROPERTIES LABELS e2e)
# Bad layouts: every problem reported, nothing written.
sp_e2e(bad.train.layout RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|3|--gbs|5|-o|${SP_OUT}/bad-train.h5"
  STDERR "TP 3 x PP 1 x CP 1 = 3 does not divide the platform's 8 GPUs" ABSENT "${SP_OUT}/bad-train.h5")
sp_e2e(bad.train.interleaved RC 2
  ARGS "train|-p|platforms/rtx3090-x4.cfg|-m|${m8}|--tp|4|--vpp|2|-o|${SP_OUT}/bad-train2.h5"
  STDERR "interleaved schedule" ABSENT "${SP_OUT}/bad-train2.h5")
sp_e2e(bad.train.no_model RC 2 ARGS "train|-p|platforms/dgx-h100.cfg|-m|tests/bad/no-such-model.cfg"
  STDERR "no-such-model.cfg")
# Lab 3 (docs/labs/lab3-pipeline.md): its commands run and show what the lab asks about.
sp_e2e(lab3.bubble RC 0
  ARGS "train|-p|platforms/dgx-spark-switch.cfg|-n|4|-m|${m8}|--pp|4|--seq|2048|--microbatches|8"
  STDOUT " 3 +3 +[0-9.]+ +0\\.000 +0\\.000 +0\\.000 +0\\.000 +[0-9.]+ +0\\.000")
sp_e2e(lab3.interleaved RC 0
  ARGS "train|-p|platforms/dgx-spark-switch.cfg|-n|4|-m|${m8}|--pp|4|--vpp|2|--seq|2048|--microbatches|8"
  STDOUT "PP 4 \\(interleaved\\)")
sp_e2e(lab3.dp_instead RC 0
  ARGS "train|-p|platforms/dgx-spark-switch.cfg|-n|4|-m|${m8}|--zero|3|--seq|2048|--gbs|32"
  STDOUT "DP 4, ZeRO-3")
# Lab 3, section 7: Llama 3's split, 126 layers on 16 stages x 8 chunks (the
# first and last chunks the embedding and the output layer alone), and no more.
set(m405 workloads/models/llama3-405b.cfg)
sp_e2e(lab3.llama_split RC 0
  ARGS "memory|-m|${m405}|-p|platforms/superpod-h100.cfg|-n|1024|--tp|8|--pp|16|--vpp|8|--seq|8192|--microbatches|16|--zero|2"
  STDOUT "of 80 GB: fits")
sp_e2e(lab3.llama_split_too_many RC 2
  ARGS "memory|-m|${m405}|-p|platforms/superpod-h100.cfg|-n|1024|--tp|8|--pp|16|--vpp|9|--seq|8192|--microbatches|16|--zero|2"
  STDERR "16 x 9 virtual stages exceeds the 126 layers plus the embedding and the output layer")
sp_e2e(lab3.llama_split_small RC 0
  ARGS "train|-p|platforms/dgx-spark-switch.cfg|-n|2|-m|${m8}|--pp|2|--vpp|17|--seq|2048|--microbatches|4"
  STDOUT "PP 2 \\(interleaved\\).*causal count")
# Interleaving shortens stage 0's wait (the lab's question 4, as a check of the schedule).
add_test(NAME e2e.lab3.interleaving_helps
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/lab3_interleave.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.lab3.interleaving_helps PROPERTIES LABELS e2e)
# The question users ask: does a full fine-tune of a ~30B model fit in a Spark's 128 GB?
# The accounting answers, itemised (mixed-precision Adam: 16 B per parameter before sharding).
sp_e2e(memory.qwen32b_full_on_spark RC 0
  ARGS "memory|-m|workloads/models/qwen2.5-32b.cfg|-p|platforms/dgx-spark.cfg|--seq|2048|--recompute|full"
  STDOUT "weights +65\\.53 GB.*gradients +65\\.53 GB.*optimizer states +393\\.16 GB.*of 128 GB: does NOT fit")
sp_e2e(memory.qwen32b_qlora_on_spark RC 0
  ARGS "memory|-m|workloads/models/qwen2.5-32b.cfg|-p|platforms/dgx-spark.cfg|--seq|2048|--finetune|qlora|--recompute|full"
  STDOUT "of 128 GB: fits")
# Mixture of experts: Mixtral 8x7B with expert parallelism over two DGX H100; the
# all-to-all shows in its own column. Folded and unfolded agree (DP groups on rails).
sp_e2e(train.moe_ep RC 0
  ARGS "train|-p|platforms/superpod-h100.cfg|-n|2|-m|workloads/models/mixtral-8x7b.cfg|--tp|2|--ep|8|--zero|1|--seq|4096|--gbs|16"
  STDOUT "DP 8 \\(EP 8 of it\\).*exp\\. ep.* 0 +0 +[0-9.]+ +[0-9.]+ +0\\.000 +[1-9][0-9]*\\.[0-9]+ ")
sp_e2e(bad.train.ep_dense RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--ep|2|-o|${SP_OUT}/bad-ep.h5"
  STDERR "EP 2 needs a mixture-of-experts model" ABSENT "${SP_OUT}/bad-ep.h5")
sp_e2e(bad.train.overflow RC 2 ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|65536|--pp|65536"
  STDERR "= 4294967296 does not divide the platform's 8 GPUs")
sp_e2e(bad.train.mixed RC 2 ARGS "train|-p|platforms/lab-mixed.cfg|-m|${m8}"
  STDERR "mixes node types")
# Folding context parallelism too: one CP rank stands for its group; the step agrees within 0.1%
# (CP groups ride separate rails), with an eighth of the operations.
add_test(NAME e2e.train.fold_cp
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=train|-p|platforms/superpod-h100.cfg|-n|16|-m|workloads/models/llama3-8b.cfg|--tp|8|--cp|4|--pp|2|--seq|32768|--gbs|16|--zero|1"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fold.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.fold_cp PROPERTIES LABELS e2e TIMEOUT 300)
# The same with CP's ring (send/recv exchanges on the folded CP groups).
add_test(NAME e2e.train.fold_cp_ring
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=train|-p|platforms/superpod-h100.cfg|-n|8|-m|workloads/models/llama3-8b.cfg|--tp|8|--cp|4|--seq|32768|--gbs|4|--zero|1|--cp-comm-type|p2p"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fold.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.fold_cp_ring PROPERTIES LABELS e2e TIMEOUT 300)

# Options that move the step the way they must: TP communication overlapped
# with compute shortens it; a busiest expert-parallel rank with 1.5x the
# balanced tokens lengthens it.
set(tp8 train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|8|--seq|8192|--gbs|4)
add_test(NAME e2e.train.tp_overlap
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DFAST=${tp8}|--tp-overlap" "-DSLOW=${tp8}"
          "-DPATTERN=step time +([0-9.]+) ms" "-DWHY=TP communication hidden behind the GEMMs"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/compare.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set(mx train|-p|platforms/dgx-h100.cfg|-m|workloads/models/mixtral-8x7b.cfg|--ep|4|--zero|1|--seq|2048|--gbs|8)
add_test(NAME e2e.train.moe_imbalance
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DFAST=${mx}" "-DSLOW=${mx}|--moe-imbalance|1.5"
          "-DPATTERN=step time +([0-9.]+) ms" "-DWHY=the busiest rank's experts and all-to-all carry 1.5x"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/compare.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.tp_overlap e2e.train.moe_imbalance PROPERTIES LABELS e2e TIMEOUT 300)
# Compute beside a collective loses the SMs of its CTAs, for exactly as long
# as the two overlap (TP overlap, pipeline transfers and ZeRO-1's gradient
# reduce-scatters, on every rank); off, it keeps the whole GPU.
foreach(mode on off)
  add_test(NAME e2e.train.sm_contention_${mode}
    COMMAND ${SP_EXE} train -p platforms/dgx-h100.cfg -m ${m8} --tp 2 --pp 2 --seq 2048 --gbs 8 --zero 1
            --tp-overlap --sm-contention ${mode} -o ${SP_OUT}/smc-${mode}.h5 --timeline ${SP_OUT}/smc-${mode}.json
    WORKING_DIRECTORY ${SP_ROOT})
endforeach()
add_test(NAME e2e.train.sm_contention COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_sm_contention.py
  ${SP_OUT}/smc-on.h5 ${SP_OUT}/smc-off.h5 132)
set_tests_properties(e2e.train.sm_contention PROPERTIES DEPENDS "e2e.train.sm_contention_on;e2e.train.sm_contention_off")
# The timeline shows each collective's SMs as the HDF5 output has them:
# userbuffer kernels 16, copy-engine exchanges 0, NCCL's their channels.
add_test(NAME e2e.train.sm_timeline COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_timeline.py
  ${SP_OUT}/smc-on.json 8 17744 ${SP_OUT}/smc-on.h5)
set_tests_properties(e2e.train.sm_timeline PROPERTIES DEPENDS e2e.train.sm_contention_on
  PASS_REGULAR_EXPRESSION "SMs held: \\[0, 16, [0-9]")
set_tests_properties(e2e.train.sm_contention_on e2e.train.sm_contention_off e2e.train.sm_contention
  e2e.train.sm_timeline PROPERTIES LABELS e2e)
# The study's estimate (train_estimate, recorded by train -o) against the
# simulated step where data-parallel traffic outlasts the compute beside it:
# 8B at TP 4 on 8 SuperPOD nodes, gradients over InfiniBand every layer
# (ZeRO-3 also gathers each layer's weights; ZeRO-1 gathers them all after
# the optimizer); ZeRO-3 over one node's NVLink, whose collectives take SMs
# from the compute they overlap; and pipelines of uneven stages (the
# embedding on the first, the output layer on the last), plain and
# interleaved. An estimate that counted one exposed gradient bucket and hid
# the rest missed the first two by 20%; one that put the output layer on
# every micro-batch of the busiest stage, plus the bubble's formula, the
# plain pipeline by 5%.
set(est_runs "")
set(est_files "")
foreach(run "z3|superpod-h100|8|16|--tp|4|--zero|3" "z0|superpod-h100|8|16|--tp|4|--zero|0"
            "z1|superpod-h100|8|16|--tp|4|--zero|1" "z3_node|dgx-h100|1|16|--zero|3"
            "pp4|superpod-h100|4|32|--tp|2|--pp|4|--zero|1" "pp2_v4|superpod-h100|4|32|--tp|2|--pp|2|--vpp|4")
  string(REPLACE "|" ";" run "${run}")
  list(POP_FRONT run name plat nodes gbs)
  add_test(NAME e2e.train.estimate_${name}
    COMMAND ${SP_EXE} train -p platforms/${plat}.cfg -n ${nodes} -m ${m8} --seq 4096 --gbs ${gbs} ${run}
            -o ${SP_OUT}/estimate-${name}.h5
    WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.train.estimate_${name} PROPERTIES LABELS e2e
    PASS_REGULAR_EXPRESSION "the study's estimate of this layout: [0-9.]+ ms")
  list(APPEND est_runs e2e.train.estimate_${name})
  list(APPEND est_files ${SP_OUT}/estimate-${name}.h5)
endforeach()
add_test(NAME e2e.train.estimate COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_estimate.py 0.04
  ${est_files})
set_tests_properties(e2e.train.estimate PROPERTIES DEPENDS "${est_runs}" LABELS e2e)
# Where NCCL's model times nothing --algo allows for the estimate's pipeline
# transfer (Tree has no all-gather), the step is still simulated and the
# estimate said to be missing.
sp_e2e(train.estimate_none RC 0
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--pp|2|--algo|Tree|--seq|2048|--gbs|8"
  STDOUT "step time +[0-9.]+ ms.*the study's estimate of this layout: none")
# Lab 5 (docs/labs/lab5-overlap.md): its commands run and show what the lab
# asks about. FSDP's collectives take SMs from the compute they hide behind;
# counted, ZeRO-1 is the faster scheme on one DGX H100; TP overlap saves
# less once its collectives' SMs are counted.
set(lab5 train|-p|platforms/dgx-h100.cfg|-m|${m8}|--seq|4096)
foreach(t fsdp_sms zero1_wins tp_overlap_sms)
  if(t STREQUAL "fsdp_sms")
    set(fast "${lab5}|--gbs|32|--zero|3|--sm-contention|off")
    set(slow "${lab5}|--gbs|32|--zero|3")
    set(why "FSDP's gathers and reduce-scatters hold SMs the compute beside them loses")
  elseif(t STREQUAL "zero1_wins")
    set(fast "${lab5}|--gbs|32|--zero|1")
    set(slow "${lab5}|--gbs|32|--zero|3")
    set(why "with the SMs counted, ZeRO-1's single gradient reduction beats FSDP's per-layer traffic")
  else()
    set(fast "${lab5}|--tp|8|--gbs|8|--tp-overlap|--sm-contention|off")
    set(slow "${lab5}|--tp|8|--gbs|8|--tp-overlap")
    set(why "overlapped TP collectives slow the GEMMs they hide behind")
  endif()
  add_test(NAME e2e.lab5.${t}
    COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DFAST=${fast}" "-DSLOW=${slow}"
            "-DPATTERN=step time +([0-9.]+) ms" "-DWHY=${why}" -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/compare.cmake
    WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.lab5.${t} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
sp_e2e(train.sm_contention_bad RC 2 ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--sm-contention|maybe"
  STDERR "--sm-contention: expected on or off")
sp_e2e(train.moe_imbalance_bad RC 2 ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|8|--moe-imbalance|1.2"
  STDERR "MoE imbalance 1.2: expected a mixture-of-experts model")
sp_e2e(train.moe_imbalance_not_a_number RC 2 ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--moe-imbalance|x"
  STDERR "option --moe-imbalance: expected a number in \\[1, 1e\\+06\\], got \"x\"")
# Capacity and token dropping (Megatron-LM's capacity factor): capped at 1.25
# the busiest rank is faster than dropless at 1.5; padded to 2, slower than
# dropless balanced; the report says what was processed and dropped, and
# the HDF5 row carries it.
add_test(NAME e2e.train.moe_capacity_drops
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DFAST=${mx}|--moe-imbalance|1.5|--moe-capacity|1.25"
          "-DSLOW=${mx}|--moe-imbalance|1.5" "-DPATTERN=step time +([0-9.]+) ms"
          "-DWHY=capacity drops the busiest rank's tokens beyond 1.25x" -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/compare.cmake
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.train.moe_capacity_pads
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DFAST=${mx}" "-DSLOW=${mx}|--moe-capacity|2|--moe-pad"
          "-DPATTERN=step time +([0-9.]+) ms" "-DWHY=padding every expert to twice its balanced share"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/compare.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.moe_capacity_drops e2e.train.moe_capacity_pads PROPERTIES LABELS e2e TIMEOUT 300)
sp_e2e(train.moe_capacity_report RC 0 ARGS "${mx}|--moe-imbalance|1.5|--moe-capacity|1.25|-o|${SP_OUT}/moe-cap.h5"
  STDOUT "MoE routing: capacity, dropping; the busiest expert-parallel rank's experts process 1.250 x the balanced tokens \\(capacity factor 1.25\\), dropping 16.7% of the tokens routed to them")
add_test(NAME e2e.train.moe_capacity_h5 COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_moe_h5.py
  ${SP_OUT}/moe-cap.h5 1.25 1.25 0.16666666666666666 0)
set_tests_properties(e2e.train.moe_capacity_h5 PROPERTIES DEPENDS e2e.train.moe_capacity_report LABELS e2e)
sp_e2e(train.moe_pad_alone RC 2 ARGS "${mx}|--moe-pad"
  STDERR "MoE padding pads each expert's input to its capacity: it needs a capacity factor")
sp_e2e(train.moe_capacity_dense RC 2 ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|8|--moe-capacity|1.25"
  STDERR "MoE capacity: Llama 3 8B has no mixture of experts")
sp_e2e(train.moe_capacity_zero RC 2 ARGS "${mx}|--moe-capacity|0"
  STDERR "option --moe-capacity: expected a number in")

# SimGrid given only the nodes a run uses (a folded step, a trace on fewer
# ranks than the platform): the same reports and HDF5 tables as with
# --whole-platform, on 2- and 3-tier fat-trees.
add_test(NAME e2e.train.whole_platform COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_whole_platform.py
  ${SP_EXE} ${SP_OUT}/whole-platform)
set_tests_properties(e2e.train.whole_platform PROPERTIES LABELS e2e)
# LoRA on some layers only (--lora-targets): the adapters listed and timed
# are the targets', each adds its own time, a frozen layer without one keeps
# no input; a bad list is refused before anything is written.
add_test(NAME e2e.train.lora_targets COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_lora_targets.py
  ${SP_EXE} WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.lora_targets PROPERTIES LABELS e2e)
sp_e2e(train.lora_targets_bad RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--finetune|lora|--lora-targets|qkv,ffn|-o|${SP_OUT}/lora-bad.h5"
  STDERR "option --lora-targets: expected a comma-separated list of qkv, proj, fc1, fc2, attention, mlp, all \\(Megatron-LM's layers\\) or q, k, v, o, gate, up, down, all-linear .*got \"qkv,ffn\""
  ABSENT "${SP_OUT}/lora-bad.h5")
sp_e2e(train.lora_targets_mixed RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--finetune|lora|--lora-targets|attention,v|-o|${SP_OUT}/lora-mixed.h5"
  STDERR "option --lora-targets \"attention,v\": qkv \\(one adapter on the fused layer\\) and q, k or v \\(adapters apart\\) adapt the same layer"
  ABSENT "${SP_OUT}/lora-mixed.h5")
sp_e2e(train.lora_targets_gate RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|workloads/models/gpt-354m.cfg|--seq|1024|--finetune|lora|--lora-targets|gate|-o|${SP_OUT}/lora-gate.h5"
  STDERR "LoRA target gate: GPT 354M has no gated FFN" ABSENT "${SP_OUT}/lora-gate.h5")
sp_e2e(memory.lora_all_linear_ungated RC 0
  ARGS "memory|-p|platforms/dgx-spark.cfg|-m|workloads/models/gpt-354m.cfg|--seq|1024|--finetune|lora|--lora-targets|all-linear"
  STDOUT "lora on all-linear")
sp_e2e(train.lora_targets_full RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--lora-targets|attention|-o|${SP_OUT}/lora-full.h5"
  STDERR "option --lora-targets applies to --finetune lora or qlora, not to full training"
  ABSENT "${SP_OUT}/lora-full.h5")
sp_e2e(train.lora_a2a_full RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--lora-a2a|-o|${SP_OUT}/lora-a2a-full.h5"
  STDERR "option --lora-a2a applies to --finetune lora or qlora, not to full training"
  ABSENT "${SP_OUT}/lora-a2a-full.h5")
# Context parallelism's method (Megatron-LM's --cp-comm-type): an unknown
# one, the ring without context parallelism or on a sequence its 2 x CP
# chunks do not divide, are refused with no file; the ring is named in the
# layout and recorded in the file.
sp_e2e(train.cp_comm_bad RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp|2|--cp-comm-type|ring|-o|${SP_OUT}/cp-comm-bad.h5"
  STDERR "option --cp-comm-type: expected all_gather, p2p or a2a, got \"ring\""
  ABSENT "${SP_OUT}/cp-comm-bad.h5")
sp_e2e(train.cp_comm_no_cp RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp-comm-type|p2p|-o|${SP_OUT}/cp-comm-no-cp.h5"
  STDERR "cp_comm_type p2p \\(the ring of context parallelism\\) needs cp > 1, got cp 1"
  ABSENT "${SP_OUT}/cp-comm-no-cp.h5")
sp_e2e(train.cp_ring_chunks RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp|2|--seq|8190|--cp-comm-type|p2p|-o|${SP_OUT}/cp-ring-chunks.h5"
  STDERR "context parallelism cuts each sequence into 2 x CP = 4 chunks, rank r holding chunks r and 2 x CP - 1 - r \\(Megatron-LM's get_batch_on_this_cp_rank, whatever the cp_comm_type\\): sequence 8190 is not a multiple of 4"
  ABSENT "${SP_OUT}/cp-ring-chunks.h5")
sp_e2e(train.cp_ring RC 0
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp|2|--seq|8192|--cp-comm-type|p2p|--gemms"
  STDOUT "# layout: TP 1 x CP 2 .*, CP ring \\(p2p\\)")
sp_e2e(train.cp_ring_h5 RC 0
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp|2|--seq|8192|--gbs|4|--cp-comm-type|p2p|-o|${SP_OUT}/cp-ring.h5"
  STDOUT "CP ring \\(p2p\\)")
add_test(NAME e2e.train.cp_ring_columns COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study_columns.py
  ${SP_OUT}/cp-ring.h5 --group=train/summary cp_p2p=1 cp=2)
set_tests_properties(e2e.train.cp_ring_columns PROPERTIES DEPENDS e2e.train.cp_ring_h5 LABELS e2e)
# --algo leaves the ring's send/recvs alone, as NCCL_ALGO does.
sp_e2e(train.cp_ring_algo RC 0
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp|2|--seq|8192|--gbs|4|--cp-comm-type|p2p|--algo|Ring"
  STDOUT "step time")
# CP's all-to-all: the heads of a TP rank must split over CP; its columns.
sp_e2e(train.cp_a2a_heads RC 2
  ARGS "train|-p|platforms/superpod-h100.cfg|-n|2|-m|${m8}|--tp|8|--cp|2|--cp-comm-type|a2a|-o|${SP_OUT}/cp-a2a-heads.h5"
  STDERR "cp_comm_type a2a splits each TP rank's heads over CP: Llama 3 8B has 4 query and 1 key/value heads per TP rank, not both multiples of CP 2"
  ABSENT "${SP_OUT}/cp-a2a-heads.h5")
sp_e2e(train.cp_a2a_chunks RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--cp|2|--seq|8190|--cp-comm-type|a2a|--no-flash"
  STDERR "context parallelism cuts each sequence into 2 x CP = 4 chunks.*sequence 8190 is not a multiple of 4.*cp_comm_type a2a runs fused attention kernels")
sp_e2e(train.cp_a2a_h5 RC 0
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${m8}|--tp|2|--cp|4|--seq|8192|--gbs|2|--cp-comm-type|a2a|-o|${SP_OUT}/cp-a2a.h5"
  STDOUT "CP all-to-all \\(a2a\\)")
add_test(NAME e2e.train.cp_a2a_columns COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study_columns.py
  ${SP_OUT}/cp-a2a.h5 --group=train/summary cp_a2a=1 cp_p2p=0 cp=4)
set_tests_properties(e2e.train.cp_a2a_columns PROPERTIES DEPENDS e2e.train.cp_a2a_h5 LABELS e2e)
# A ring on a GPU whose table measures no blocks without the mask: said, its
# kernels priced as all_gather's (in even steps).
sp_e2e(train.cp_ring_unmeasured RC 0
  ARGS "train|-p|platforms/dgx-b200.cfg|-m|${m8}|--cp|2|--seq|8192|--cp-comm-type|p2p|--gemms"
  STDERR "warning: --cp-comm-type p2p: GPU B200 has no measured attention blocks")
