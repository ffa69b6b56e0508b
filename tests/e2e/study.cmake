# scalepath study: the search, child processes per rung, economics, plots.
set(small tests/data/studies/small.cfg)
add_test(NAME e2e.study.small
  COMMAND ${SP_EXE} study ${small} -j 2 -o ${SP_OUT}/study.h5 WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.small PROPERTIES PASS_REGULAR_EXPRESSION
  "== lora:.*bf16, adapters on attention, unfused loss, deadline.*1 x Spark +1 yes.*<- recommended.*== full:.*1 x Spark +1 no +needs [0-9.]+ GB of 128 GB.*recommended: DGX H100: no deadline given")
add_test(NAME e2e.study.read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study.py
  ${SP_OUT}/study.h5 2 3)
add_test(NAME e2e.study.plot
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_PYTHON3}
          "-DARGS=analysis/plot.py|${SP_OUT}/study.h5|-o|${SP_OUT}/study-plots" -DEXPECT_RC=0
          "-DEXPECT_STDOUT=wrote .*study-breakdown.png"
          "-DNONEMPTY=${SP_OUT}/study-plots/study-scaling.png|${SP_OUT}/study-plots/study-scaling.svg|${SP_OUT}/study-plots/study-pareto.png|${SP_OUT}/study-plots/study-pareto.svg|${SP_OUT}/study-plots/study-memory.png|${SP_OUT}/study-plots/study-memory.svg|${SP_OUT}/study-plots/study-breakdown.png|${SP_OUT}/study-plots/study-breakdown.svg"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.read e2e.study.plot PROPERTIES DEPENDS e2e.study.small)
# The same study twice, one process at a time and two at a time: the same bytes.
add_test(NAME e2e.study.deterministic
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DARGS=study|${small}|-j|1|-o|${SP_OUT}/study-det.h5"
          -DOUT=${SP_OUT}/study-det.h5 -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/determinism.cmake
  WORKING_DIRECTORY ${SP_ROOT})
# The plots of a train result: Gantt and breakdown with the pipeline bubble.
add_test(NAME e2e.train.plot
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_PYTHON3}
          "-DARGS=analysis/plot.py|${SP_OUT}/train-det.h5|-o|${SP_OUT}/train-plots" -DEXPECT_RC=0
          "-DNONEMPTY=${SP_OUT}/train-plots/train-det-gantt.png|${SP_OUT}/train-plots/train-det-breakdown.png"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.train.plot PROPERTIES DEPENDS e2e.train.deterministic)
# The README's main job: the built-in study, well under a minute.
add_test(NAME e2e.study.default
  COMMAND ${SP_EXE} study -o ${SP_OUT}/default-study.h5 WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.default PROPERTIES PASS_REGULAR_EXPRESSION
  "== pretrain-8b:.*recommended: [^\n]+ days")
add_test(NAME e2e.study.default_read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study.py
  ${SP_OUT}/default-study.h5 4 7)
set_tests_properties(e2e.study.default_read PROPERTIES DEPENDS e2e.study.default)
set_tests_properties(e2e.study.small e2e.study.read e2e.study.plot e2e.study.deterministic e2e.train.plot
  e2e.study.default e2e.study.default_read PROPERTIES LABELS e2e TIMEOUT 600)
# A rung with CollNet (SHARP) enabled: said in the report, searched and
# simulated with it, recorded per outcome.
add_test(NAME e2e.study.collnet
  COMMAND ${SP_EXE} study tests/data/studies/sharp.cfg -j 2 -o ${SP_OUT}/study-sharp.h5 WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.collnet PROPERTIES LABELS e2e TIMEOUT 600 PASS_REGULAR_EXPRESSION
  "CollNet \\(in-network reduction, NCCL_COLLNET_ENABLE=1\\) on: 4 x DGX H100, SHARP\n.*== pretrain:.*4 x DGX H100 +32 yes.*4 x DGX H100, SHARP +32 yes")
# Bad studies: every problem at its file and line, nothing written.
# MoE capacity settings a job cannot have, all reported; and a job that has them.
sp_e2e(bad.study.moe_capacity RC 2 ARGS "study|tests/bad/study/moe-capacity.cfg|-o|${SP_OUT}/bad-moe-cap.h5"
  STDERR "moe-capacity.cfg:8: error: job: moe_capacity_factor for Llama 3 8B, which has no mixture of experts.*moe-capacity.cfg:10: error: job: moe_pad pads each expert's input to its capacity: it needs moe_capacity_factor.*moe-capacity.cfg:12: error: job: \"moe_capacity_factor\" must be > 0"
  ABSENT "${SP_OUT}/bad-moe-cap.h5")
sp_e2e(study.moe_capacity RC 0 ARGS "study|tests/data/studies/moe_capacity.cfg|-o|${SP_OUT}/moe-cap-study.h5"
  STDOUT "MoE imbalance 3 \\(at most EP\\), capacity factor 1.25, padded")
add_test(NAME e2e.study.moe_capacity_h5 COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_moe_study.py
  ${SP_OUT}/moe-cap-study.h5 1.25)
set_tests_properties(e2e.study.moe_capacity_h5 PROPERTIES DEPENDS e2e.study.moe_capacity LABELS e2e)
# Context parallelism in the search (job keys context_parallel, cp_comm_type):
# at 64K tokens the best layouts use it by the job's method; the estimate that
# ranks them is within 1.5% of each simulated step (the exposed CP time is 2-3%
# of it with all_gather and a2a, so an estimate leaving it out fails).
sp_e2e(study.context_parallel RC 0 ARGS "study|tests/data/studies/long_context.cfg|-o|${SP_OUT}/long-context.h5"
  STDOUT "== lora-64k-p2p:.*context parallel up to 8 \\(p2p\\).*DGX H100 +8 yes +TP[0-9]+ CP[248] .*== lora-64k-a2a:.*context parallel up to 8 \\(a2a\\).*== lora-64k:.*DGX H100 +8 yes +TP[0-9]+ PP")
add_test(NAME e2e.study.context_parallel_h5 COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study_cp.py
  ${SP_OUT}/long-context.h5 0.015 lora-64k-p2p=p2p lora-64k-all-gather=all_gather lora-64k-a2a=a2a lora-64k=none)
set_tests_properties(e2e.study.context_parallel_h5 PROPERTIES DEPENDS e2e.study.context_parallel LABELS e2e)
# The ring on a GPU without measured attention blocks: a warning at the job's line, as train gives.
sp_e2e(study.cp_unmeasured RC 0 ARGS "study|tests/data/studies/cp_unmeasured.cfg|-o|${SP_OUT}/cp-unmeasured.h5"
  STDERR "cp_unmeasured.cfg:8: warning: job \"lora-ring\": rung \"DGX B200\": GPU B200 has no measured attention blocks")
sp_e2e(bad.study.context_parallel RC 2 ARGS "study|tests/bad/study/context-parallel.cfg|-o|${SP_OUT}/bad-cp.h5"
  STDERR "context-parallel.cfg:9: error: job: context_parallel 3: expected a power of two.*context-parallel.cfg:11: error: job: cp_comm_type \"ring\": expected p2p, all_gather or a2a.*context-parallel.cfg:13: error: job: cp_comm_type applies where the search tries context parallelism.*context-parallel.cfg:15: error: job: context_parallel 2: CP splits each sequence in 2 x CP chunks, and seq_len 8190 is not a multiple of 4"
  ABSENT "${SP_OUT}/bad-cp.h5")
# FP8 parameters without a weight cache (study keys fp8_params, weight_cache):
# said in the job's line and recorded in every row with the LoRA settings.
sp_e2e(study.fp8_params RC 0 ARGS "study|tests/data/studies/fp8_params.cfg|-o|${SP_OUT}/fp8-params-study.h5"
  STDOUT "fp8, adapters on attention, LoRA dropout 0.1, adapters' output all-to-all, FP8 parameters, no weight cache")
add_test(NAME e2e.study.fp8_params_h5 COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study_columns.py
  ${SP_OUT}/fp8-params-study.h5 fp8_params=1 weight_cache=0 lora_rank=8 lora_targets=attention lora_dropout=0.1
  lora_a2a=1 precision=fp8)
set_tests_properties(e2e.study.fp8_params_h5 PROPERTIES DEPENDS e2e.study.fp8_params LABELS e2e)
# Pretraining with FP8 weights: only layouts with a sharded optimizer (ZeRO
# 1-3; on one GPU, ZeRO-1 over one rank), as Megatron-LM requires.
sp_e2e(study.fp8_params_full RC 0 ARGS "study|tests/data/studies/fp8_params_full.cfg|-o|${SP_OUT}/fp8-params-full.h5"
  STDOUT "1 x Spark +1 yes +TP1 PP1 DP1 Z1 .*DGX H100 +8 yes +TP[0-9]+ PP[0-9]+ DP[0-9]+ Z[123] ")
# The FP8-weight and LoRA-target checks of a study, each at its file:line.
sp_e2e(bad.study.fp8_lora RC 2 ARGS "study|tests/bad/study/bad-fp8-lora.cfg|-o|${SP_OUT}/bad-fp8-lora.h5"
  STDERR "bad-fp8-lora.cfg:7: error: job: lora_targets gate: GPT 354M has no gated FFN.*bad-fp8-lora.cfg:10: error: job: fp8_params: not with adam_state pure-bf16.*bad-fp8-lora.cfg:12: error: job: lora_targets \"fc1,up\": fc1 \\(one adapter on the fused layer\\) and gate or up.*bad-fp8-lora.cfg:15: error: job: lora_a2a applies to mode lora or qlora, not \"full\""
  ABSENT "${SP_OUT}/bad-fp8-lora.h5")
sp_e2e(bad.study.keys RC 2 ARGS "study|tests/bad/study/bad-keys.cfg|-o|${SP_OUT}/bad-study.h5"
  STDERR "bad-keys.cfg:6: error: job: mode \"sideways\".*bad-keys.cfg:7: error: job: lora_targets \"ffn\": expected a comma-separated list of qkv, proj, fc1, fc2, attention, mlp, all .*bad-keys.cfg:7: error: job: loss \"fast\": expected fused or unfused.*bad-keys.cfg:8: error: job: fp8_params applies to precision fp8, not bf16.*bad-keys.cfg:7: error: job: moe_imbalance 1.5 for Llama 3 8B, which has no mixture of experts.*bad-keys.cfg:10: error: job: unknown key \"colour\".*bad-keys.cfg:10: error: job: precision \"tf32\".*bad-keys.cfg:11: error: job: lora_dropout applies to mode lora or qlora, not \"full\".*bad-keys.cfg:10: error: job: lora_targets applies to mode lora or qlora, not \"full\".*bad-keys.cfg:10: error: job: weight_cache applies to precision fp8, not bf16.*no-such-model.cfg.*bad-keys.cfg:15: error: rung: \"nodes\" must be an integer.*bad-keys.cfg:16: error: rung \"z\": collnet needs a fabric that reduces in the network"
  ABSENT "${SP_OUT}/bad-study.h5")
sp_e2e(bad.study.truncated RC 2 ARGS "study|tests/bad/study/truncated.cfg|-o|${SP_OUT}/bad-study2.h5"
  STDERR "truncated.cfg:4: error: syntax error" ABSENT "${SP_OUT}/bad-study2.h5")
sp_e2e(bad.study.missing RC 2 ARGS "study|tests/bad/study/no-such-study.cfg" STDERR "no-such-study.cfg: error: cannot read")
# Lab 4 (docs/labs/lab4-what-to-buy.md): with 90 days, the pretraining job needs only a DGX Station.
add_test(NAME e2e.lab4.ninety_days COMMAND ${SP_EXE} study docs/labs/lab4-90days.cfg WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.lab4.ninety_days PROPERTIES LABELS e2e TIMEOUT 600 PASS_REGULAR_EXPRESSION
  "== pretrain-8b:.*recommended: DGX Station: the cheapest rung to buy")
sp_e2e(bad.study.unsupported RC 2 ARGS "study|tests/bad/study/unsupported.cfg"
  STDERR "unsupported.cfg:6: error: job \"fp4-on-hopper\": rung \"H100\": the H100-SXM has no fp4 peak rate.*unsupported.cfg:11: error: rung \"mixed lab\": platform lab-mixed mixes node types")
# A study in parts (--part K/N, one Slurm array task each) merged (--merge):
# the same printout and HDF5 as one run; what the merge must refuse, it refuses.
add_test(NAME e2e.study.parts COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study_parts.py
  ${SP_EXE} ${small} ${SP_OUT}/study-parts WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.parts PROPERTIES LABELS e2e TIMEOUT 600)
sp_e2e(opt.study_part_range RC 2 ARGS "study|${small}|--part|3/3|-o|${SP_OUT}/part.h5"
  STDERR "option --part 3/3: parts are numbered 0 to 2 \\(with Slurm: --array=0-2\\)" ABSENT "${SP_OUT}/part.h5")
sp_e2e(opt.study_part_syntax RC 2 ARGS "study|${small}|--part|two|-o|${SP_OUT}/part.h5"
  STDERR "option --part: expected K/N with 0 <= K < N" ABSENT "${SP_OUT}/part.h5")
sp_e2e(opt.study_part_output RC 2 ARGS "study|${small}|--part|0/2" STDERR "study --part: give the part file to write")
sp_e2e(opt.study_merge_nothing RC 2 ARGS "study|${small}|--merge" STDERR "study --merge: name the part files")
sp_e2e(opt.study_merge_part RC 2 ARGS "study|${small}|--merge|--part|0/2|x.h5"
  STDERR "--part and --merge do not go together")
sp_e2e(opt.study_merge_max_simulated RC 2 ARGS "study|${small}|--merge|--max-simulated|1|x.h5"
  STDERR "--max-simulated is the parts'")
sp_e2e(opt.study_merge_not_h5 RC 2 ARGS "study|${small}|--merge|${small}|-o|${SP_OUT}/merged.h5"
  STDERR "small.cfg: error: not a scalepath HDF5 file" ABSENT "${SP_OUT}/merged.h5")
# A rung whose nodes is an array: one rung per count, named "NAME, N nodes".
add_test(NAME e2e.study.sweep
  COMMAND ${SP_EXE} study tests/data/studies/sweep.cfg -o ${SP_OUT}/study-sweep.h5 WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.sweep PROPERTIES LABELS e2e TIMEOUT 600 PASS_REGULAR_EXPRESSION
  "\nSparks, 1 node +1 yes[^\n]*\nSparks, 2 nodes +2 yes[^\n]*\nSparks, 4 nodes +4 yes[^\n]*\nDGX H100 +8 yes")
add_test(NAME e2e.study.sweep_read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study.py
  ${SP_OUT}/study-sweep.h5 1 4)
set_tests_properties(e2e.study.sweep_read PROPERTIES LABELS e2e DEPENDS e2e.study.sweep)
sp_e2e(bad.study.nodes RC 2 ARGS "study|tests/bad/study/bad-nodes.cfg"
  STDERR "bad-nodes.cfg:10: error: rung: \"nodes\" must not be empty.*bad-nodes.cfg:11: error: rung: \"nodes\"\\[0\\] must be an integer \\(no decimal point\\), got 1.5.*bad-nodes.cfg:12: error: rung: \"nodes\"\\[0\\] must be >= 1 and <= 1048576, got 0.*bad-nodes.cfg:13: error: rung \"fixed\": platform [^\n]*lab-mixed.cfg has a fixed number of nodes; nodes cannot be a list.*bad-nodes.cfg:14: error: rung \"twice, 2 nodes\": its nodes array lists a count twice")
# Lab 6 (docs/labs/lab6-scaling.md): the sweep runs, and shows what the lab asks about.
add_test(NAME e2e.lab6.scaling
  COMMAND ${SP_EXE} study docs/labs/lab6-scaling.cfg -j 2 -o ${SP_OUT}/lab6.h5 WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.lab6.scaling PROPERTIES LABELS e2e TIMEOUT 900 PASS_REGULAR_EXPRESSION
  "SuperPOD H100, 32 nodes +256 yes +TP1 PP1 DP256 Z3[^\n]*\nSuperPOD H100, 64 nodes +512 yes +TP2 PP1 DP256[^\n]*\nSuperPOD H100, 128 nodes +1024 yes +TP4 PP1 DP256")
add_test(NAME e2e.lab6.claims COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_lab6.py ${SP_OUT}/lab6.h5)
set_tests_properties(e2e.lab6.claims PROPERTIES LABELS e2e DEPENDS e2e.lab6.scaling)
# Lab 8 (docs/labs/lab8-long-context.md): long sequences and context parallelism.
# Its claims are the model's figures, not memory safety (the sanitized build runs
# the CP unit and e2e tests), so they run in the plain build only, to spare CI time.
if(NOT SP_SANITIZE)
  add_test(NAME e2e.lab8.study
    COMMAND ${SP_EXE} study docs/labs/lab8-long-context.cfg -j 2 -o ${SP_OUT}/lab8.h5 WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.lab8.study PROPERTIES LABELS e2e TIMEOUT 900 PASS_REGULAR_EXPRESSION
    "== 128k:[^\n]*context parallel up to 8 \\(p2p\\)\n[^\n]*\nSuperPOD H100, 1 node +8 yes +TP1 CP8 ")
  add_test(NAME e2e.lab8.claims COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_lab8.py ${SP_EXE}
    ${SP_OUT}/lab8.h5 WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.lab8.claims PROPERTIES LABELS e2e TIMEOUT 900 DEPENDS e2e.lab8.study)
endif()
# The same with a rung SimGrid is given only some nodes of (15 of 64): the
# merged printout, its "SimGrid given" line and the simgrid_nodes column as
# one run gives them.
add_test(NAME e2e.study.parts_pruned COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_study_parts.py
  ${SP_EXE} tests/data/studies/pruned.cfg ${SP_OUT}/study-parts-pruned WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.study.parts_pruned PROPERTIES LABELS e2e TIMEOUT 600)
sp_e2e(opt.study_merge_whole RC 2 ARGS "study|${small}|--merge|--whole-platform|${SP_OUT}/part.h5"
  STDERR "--whole-platform chooses how parts are simulated, not how they merge")
