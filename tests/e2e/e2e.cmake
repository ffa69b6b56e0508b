# End-to-end tests: the real scalepath binary, one process per case.
set(SP_EXE $<TARGET_FILE:scalepath>)
set(SP_ROOT ${PROJECT_SOURCE_DIR})
set(SP_OUT ${CMAKE_CURRENT_BINARY_DIR}/e2e-out)
file(MAKE_DIRECTORY ${SP_OUT})
# Debian's python3 (with python3-h5py), not a pyenv or venv one found first on PATH.
find_program(SP_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(SP_PYTHON3 python3)

# sp_e2e(NAME RC rc ARGS a|b|c [STDERR re] [STDOUT re] [ABSENT f|g] [EXE program])
function(sp_e2e name)
  cmake_parse_arguments(E "" "RC;ARGS;STDERR;STDOUT;ABSENT;EXE" "" ${ARGN})
  if(NOT E_EXE)
    set(E_EXE ${SP_EXE})
  endif()
  add_test(NAME e2e.${name}
    COMMAND ${CMAKE_COMMAND} -DEXE=${E_EXE} "-DARGS=${E_ARGS}" -DEXPECT_RC=${E_RC}
            "-DEXPECT_STDERR=${E_STDERR}" "-DEXPECT_STDOUT=${E_STDOUT}" "-DABSENT=${E_ABSENT}"
            -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
    WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.${name} PROPERTIES LABELS e2e TIMEOUT 120)
endfunction()

# --- The bad-input corpus (tests/bad/EXPECT): exit 2, file:line, no output.
file(STRINGS ${SP_ROOT}/tests/bad/EXPECT expect_lines REGEX "^[^#]")
foreach(line IN LISTS expect_lines)
  string(REGEX MATCH "^([^ ]+) +(.*)$" _ "${line}")
  set(f ${CMAKE_MATCH_1})
  set(re ${CMAKE_MATCH_2})
  string(REPLACE ".cfg" "" case ${f})
  sp_e2e(bad.nccl.${case} RC 2
    ARGS "nccl|-p|tests/bad/${f}|-n|2|-o|${SP_OUT}/bad-${case}.h5"
    STDERR "${re}" ABSENT "${SP_OUT}/bad-${case}.h5")
  sp_e2e(bad.check.${case} RC 2 ARGS "check|tests/bad/${f}" STDERR "${re}")
endforeach()

# --- Bad options and impossible node counts: exit 2, a clear message, no output.
sp_e2e(opt.no_platform RC 2 ARGS "nccl|-o|${SP_OUT}/x.h5" STDERR "a platform is required"
  ABSENT "${SP_OUT}/x.h5")
sp_e2e(opt.missing_file RC 2 ARGS "nccl|-p|tests/bad/no-such-file.cfg"
  STDERR "no-such-file.cfg: error: cannot read: No such file or directory")
sp_e2e(opt.bad_collective RC 2 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-c|all_reduse"
  STDERR "unknown collective \"all_reduse\"")
sp_e2e(opt.bad_size RC 2 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-b|8Q" STDERR "option -b")
sp_e2e(opt.bad_type RC 2 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-d|float7"
  STDERR "unknown type \"float7\"")
sp_e2e(opt.min_above_max RC 2 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-b|1G|-e|1M"
  STDERR "is larger than -e")
sp_e2e(opt.direct_three_nodes RC 2
  ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|3|-o|${SP_OUT}/three.h5"
  STDERR "dgx-spark.cfg:[0-9]+: error: fabric: the direct template joins at most 2 nodes"
  ABSENT "${SP_OUT}/three.h5")
sp_e2e(opt.too_many_nodes RC 2 ARGS "nccl|-p|platforms/dgx-h100.cfg|-n|9"
  STDERR "dgx-h100.cfg:[0-9]+: error: fabric: 9 nodes need 72 switch ports \\(one per NIC\\), the switch has 64")
sp_e2e(opt.unwritable_output RC 3
  ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-o|${SP_OUT}/no-such-dir/out.h5"
  STDERR "out.h5.*error" ABSENT "${SP_OUT}/no-such-dir/out.h5")
sp_e2e(cmd.unknown RC 2 ARGS "frobnicate" STDERR "unknown command \"frobnicate\"")

# --- Shipped platforms load and expand.
file(GLOB shipped RELATIVE ${SP_ROOT} ${SP_ROOT}/platforms/*.cfg)
string(REPLACE ";" "|" shipped_args "${shipped}")
sp_e2e(check.shipped RC 0 ARGS "check|${shipped_args}" STDOUT "dgx-spark.cfg: ok")
sp_e2e(check.spark_two RC 0 ARGS "check|-n|2|platforms/dgx-spark.cfg" STDOUT "ok")
# The course labs' platform and commands keep working (docs/labs/).
sp_e2e(lab1.check RC 0 ARGS "check|-n|8|docs/labs/lab1-ideal.cfg" STDOUT "ok")
sp_e2e(lab1.tree RC 0
  ARGS "nccl|-p|docs/labs/lab1-ideal.cfg|-n|8|-b|1K|-e|1G|-f|32|--algo|Tree|--proto|Simple|-v"
  STDOUT " 1073741824 .* Tree +Simple ")
sp_e2e(lab1.collnet RC 0
  ARGS "nccl|-p|platforms/superpod-b200.cfg|-n|4|-c|all_reduce|-b|1M|-e|4G|-f|16|-v|--collnet"
  STDOUT " 1048576 .* CollnetDirect +Simple .* 4294967296 .* CollnetChain +Simple ")
sp_e2e(lab2.lora RC 0
  ARGS "memory|-m|workloads/models/llama3-8b.cfg|-p|platforms/dgx-spark.cfg|--finetune|lora|--lora-rank|16|--seq|2048"
  STDOUT "total .*GB of 128 GB")

# --- Every collective runs and prints the nccl-tests table.
foreach(c all_reduce all_gather reduce_scatter broadcast reduce alltoall sendrecv gather scatter)
  sp_e2e(nccl.spark.${c} RC 0 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-c|${c}|-b|8|-e|64M|-f|2"
    STDOUT "size +count +type +redop +root +time +algbw +busbw #wrong.* 67108864 ")
  sp_e2e(nccl.h100.${c} RC 0 ARGS "nccl|-p|platforms/dgx-h100.cfg|-n|2|-c|${c}|-b|1M|-e|64M|-f|8|-v"
    STDOUT "(Ring|Tree|PAT|P2P) +(LL|LL128|Simple) +[0-9]+ +[0-9]+ +([0-9.]+|-)")
endforeach()

# --- Busbw at large sizes against published measurements (shared/HARDWARE.md).
add_test(NAME e2e.published.spark_pair_1G
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=nccl|-p|platforms/dgx-spark.cfg|-n|2|-b|1M|-e|1G|-f|2" -DSIZE=1073741824
          -DMIN=18.9 -DMAX=24.0
          "-DSOURCE=2x DGX Spark nccl-tests busbw 18.9-23.7 GB/s (dgx-spark-playbooks #25, #102), 20-24 GB/s in NVIDIA's playbook"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/busbw.cmake
  WORKING_DIRECTORY ${SP_ROOT})
# DGX H100 all_reduce at 8 GiB: NCCL picks NVLS (~480 GB/s busbw); forced to Ring, ~370
# (NVIDIA, nccl-tests #212). Each within the 10% that issue #3 accepts.
add_test(NAME e2e.published.dgx_h100_8G
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=nccl|-p|platforms/dgx-h100.cfg|-n|1|-b|1G|-e|8G|-f|2" -DSIZE=8589934592
          -DMIN=432 -DMAX=528
          "-DSOURCE=DGX H100 all_reduce busbw ~480 GB/s with NVLS (NVIDIA, nccl-tests #212), +-10%"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/busbw.cmake
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.published.dgx_h100_8G_ring
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=nccl|-p|platforms/dgx-h100.cfg|-n|1|-b|1G|-e|8G|-f|2|--algo|Ring" -DSIZE=8589934592
          -DMIN=333 -DMAX=407
          "-DSOURCE=DGX H100 all_reduce busbw ~370 GB/s with NCCL_ALGO=RING (NVIDIA, nccl-tests #212), +-10%"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/busbw.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.published.spark_pair_1G e2e.published.dgx_h100_8G e2e.published.dgx_h100_8G_ring
  PROPERTIES LABELS e2e TIMEOUT 120)
# NCCL's choice on a DGX H100: Ring LL for small all-reduce, NVLS Simple for large.
sp_e2e(nccl.nvls_choice RC 0 ARGS "nccl|-p|platforms/dgx-h100.cfg|-b|8K|-e|128M|-f|128|-v"
  STDOUT "8192 .*Ring +LL .*134217728 .*NVLS +Simple")
# ... and across two of them (8 rails): Tree LL for small all-reduce, NVLS-Tree for large.
sp_e2e(nccl.nvls_tree_choice RC 0 ARGS "nccl|-p|platforms/superpod-h100.cfg|-n|2|-b|8K|-e|128M|-f|128|-v"
  STDOUT "8192 .*Tree +LL .*134217728 .*NVLSTree +Simple")
# NCCL's model prices NVLS on its NVLS graph as the platform files give it:
# 8 heads x 40 / 60 GB/s on a DGX H100, busBw 476 GB/s, so 1 GiB takes 25 +
# 2^30 / (476 x 8/14 x 1000) = 3972.58 us; across two DGX H100, 8 x 40 / 48
# with the per-channel NVLS-Tree cap, 461.6 GB/s: 66.8 + 2^30 / (461.6 x
# 16/30 x 1000) = 4428.29 us.
sp_e2e(nccl.nvls_graph RC 0 ARGS "nccl|-p|platforms/dgx-h100.cfg|-b|1G|-e|1G|-v"
  STDOUT "NVLS +Simple +16 +1 +3972\\.58")
sp_e2e(nccl.nvls_tree_graph RC 0 ARGS "nccl|-p|platforms/superpod-h100.cfg|-n|2|-b|1G|-e|1G|-v"
  STDOUT "NVLSTree +Simple +16 +8 +4428\\.29")
# CollNet (SHARP) only when enabled, as NCCL_COLLNET_ENABLE=1, on a fabric
# that reduces in the network. Four DGX B200: NCCL's model takes CollNet
# Direct at 64 MiB and Chain at 16 GiB, 69.2 + 2^34 / (344 x 1000) =
# 50010.68 us (tests/unit/test_coll_tune.c has the terms).
sp_e2e(nccl.collnet_choice RC 0
  ARGS "nccl|-p|platforms/superpod-b200.cfg|-n|4|--collnet|-b|64M|-e|16G|-f|256|-v"
  STDOUT "CollNet enabled .*67108864 .*CollnetDirect +Simple .*17179869184 .*CollnetChain +Simple +16 +8 +50010\\.68")
sp_e2e(nccl.collnet_not_enabled RC 2
  ARGS "nccl|-p|platforms/superpod-b200.cfg|-n|2|--algo|CollnetChain"
  STDERR "CollnetChain need --collnet")
# More peers than a stage once had room for (128 transfers): an all-to-all
# and a gather over 136 Sparks (one GPU each: no PXN relay merges their
# flows) left ranks waiting forever, reported as a deadlock.
foreach(c alltoall gather)
  sp_e2e(nccl.many_peers.${c} RC 0
    ARGS "nccl|-p|platforms/dgx-spark-cluster.cfg|-n|136|-c|${c}|-b|1M|-e|1M"
    STDOUT " float .* Avg bus bandwidth +: [0-9]")
endforeach()
sp_e2e(nccl.collnet_no_fabric RC 0 ARGS "nccl|-p|platforms/dgx-spark-switch.cfg|-n|4|--collnet|-v"
  STDOUT "no effect, the platform's fabric does not reduce in the network.* Ring ")
# The comparison with published nccl-tests curves runs and reads every log
# (its figures are reported: see bench/README.md), and those of its logs
# that meet issue #3's targets keep meeting them. Below 64 KiB (simulated
# over measured time within 1.5x): each one's figure is followed by the
# next log's header, with no "MISSES the target" between. From 1 MiB
# (median busbw error within 10%, worst within 25%): the figure's line ends
# without "MISSES". The last log and the SHARP summary close the output.
set(small "[^\n]*\n[^\n]*\n +time < 64 KiB: simulated/measured [0-9.]+-[0-9.]+ \\([0-9]+ sizes\\)[^M=]*== ")
set(large "[^\n]*\n +busbw >= 1 MiB: median [|]err[|] [0-9.]+%, worst [0-9.]+% \\([0-9]+ sizes\\)\n")
add_test(NAME e2e.bench.nccl_accuracy
  COMMAND ${SP_PYTHON3} ${PROJECT_SOURCE_DIR}/bench/nccl_accuracy.py --scalepath ${SP_EXE}
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.bench.nccl_accuracy PROPERTIES LABELS e2e TIMEOUT 120
  PASS_REGULAR_EXPRESSION "== h100x8_allreduce_nvls.log${small}h100x8_allreduce_ring.log${small}h100x8_allgather_nvls.log${small}h100x8_reducescatter_nvls.log${small}h100x16_p5.*== spark2_allreduce_pr103_partial.log[^\n]*\n +time < 64 KiB[^\n]*\n== h100x8_allreduce_g1_dgxc.log${small}h100x16_ib_allreduce.log${small}h100x16_ib_allreduce_ring.*== h100x32_ib_vm_allreduce.log${small}b200x16.*== b200x32_ib_sendrecv.log${large}.*== spark2_allgather_route179.log${large}.*== h100x8_allgather_g1_c02.log${large}.*== h100x8_reducescatter_g1_c02.log${large}.*== h100x8_sendrecv_g1_c02.log[^\n]*\n +busbw >= 1 MiB.*CollNet: median")

# --- HDF5 output: readable by h5py as docs/output-format.md says, and deterministic.
add_test(NAME e2e.h5.write
  COMMAND ${SP_EXE} nccl -p platforms/dgx-spark.cfg -n 2 -b 1M -e 64M -f 4 -o ${SP_OUT}/spark.h5
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.h5.read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_h5.py
  ${SP_OUT}/spark.h5 all_reduce 2)
set_tests_properties(e2e.h5.read PROPERTIES DEPENDS e2e.h5.write)
add_test(NAME e2e.h5.deterministic
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE}
          "-DARGS=nccl|-p|platforms/dgx-h100.cfg|-n|2|-b|1M|-e|256M|-f|4|-o|${SP_OUT}/det.h5"
          -DOUT=${SP_OUT}/det.h5 -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/determinism.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.h5.write e2e.h5.read e2e.h5.deterministic PROPERTIES LABELS e2e TIMEOUT 120)

# --- The engine against the alpha-beta formula (one process per k: one SimGrid engine each).
add_executable(test_alphabeta ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_alphabeta.c)
target_link_libraries(test_alphabeta PRIVATE simeng)
target_compile_definitions(test_alphabeta PRIVATE FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/unit/fixtures")
foreach(k 2 8 64 512)
  add_test(NAME e2e.alphabeta.k${k} COMMAND test_alphabeta ${k})
  set_tests_properties(e2e.alphabeta.k${k} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
foreach(c all_gather reduce_scatter broadcast reduce alltoall sendrecv gather scatter)
  add_test(NAME e2e.alphabeta.${c} COMMAND test_alphabeta 8 ${c})
  set_tests_properties(e2e.alphabeta.${c} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
# NVLS and NVLS-Tree on real nodes: the simulation equals the plan's alpha-beta sum.
add_test(NAME e2e.alphabeta.nvls_all_reduce
  COMMAND test_alphabeta 0 all_reduce NVLS ${PROJECT_SOURCE_DIR}/platforms/dgx-h100.cfg 1)
add_test(NAME e2e.alphabeta.nvls_all_gather
  COMMAND test_alphabeta 0 all_gather NVLS ${PROJECT_SOURCE_DIR}/platforms/dgx-h100.cfg 1)
add_test(NAME e2e.alphabeta.nvls_tree
  COMMAND test_alphabeta 0 all_reduce NVLSTree ${PROJECT_SOURCE_DIR}/platforms/superpod-h100.cfg 4)
# ... and in-network reduction (CollNet) across four DGX H100 of a SuperPOD.
foreach(case "all_reduce;CollnetDirect" "all_reduce;CollnetChain" "all_reduce;NVLS" "all_gather;CollnetDirect"
        "reduce_scatter;CollnetDirect")
  list(GET case 0 c)
  list(GET case 1 a)
  add_test(NAME e2e.alphabeta.innet_${c}_${a}
    COMMAND test_alphabeta 0 ${c} ${a} ${PROJECT_SOURCE_DIR}/platforms/superpod-h100.cfg 4)
  set_tests_properties(e2e.alphabeta.innet_${c}_${a} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
set_tests_properties(e2e.alphabeta.nvls_all_reduce e2e.alphabeta.nvls_all_gather e2e.alphabeta.nvls_tree
  PROPERTIES LABELS e2e TIMEOUT 300)

# --- docs/platform-format.md embeds `scalepath check --format` verbatim.
add_test(NAME e2e.docs.platform_format
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} -DDOC=${SP_ROOT}/docs/platform-format.md
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/doc_format.cmake)
set_tests_properties(e2e.docs.platform_format PROPERTIES LABELS e2e)

# --- analysis/: the busbw plot from scalepath output (and a refusal of other files).
add_test(NAME e2e.analysis.busbw_plot
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_PYTHON3}
          "-DARGS=analysis/nccl_busbw.py|${SP_OUT}/spark.h5|-o|${SP_OUT}/busbw.png" -DEXPECT_RC=0
          "-DEXPECT_STDOUT=wrote .*busbw.png" "-DNONEMPTY=${SP_OUT}/busbw.png|${SP_OUT}/busbw.svg"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.analysis.busbw_plot PROPERTIES DEPENDS e2e.h5.write LABELS e2e)
sp_e2e(analysis.refuses_other_files RC 2 EXE ${SP_PYTHON3}
  ARGS "analysis/nccl_busbw.py|tests/bad/garbage.cfg|-o|${SP_OUT}/no.png"
  STDERR "garbage.cfg: not an HDF5 file" ABSENT "${SP_OUT}/no.png")

# --- Every fabric template: SimGrid's routes are scalepath's, bisection as promised.
function(sp_fabric name platform nodes)
  add_test(NAME e2e.fabric.${name}
    COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} -DPLATFORM=${platform} -DNODES=${nodes}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fabric.cmake
    WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.fabric.${name} PROPERTIES LABELS e2e TIMEOUT 300)
endfunction()
sp_fabric(direct platforms/dgx-spark.cfg 2)
sp_fabric(direct_station platforms/dgx-station.cfg 2)
sp_fabric(ring_pair platforms/dgx-spark-ring.cfg 2)
sp_fabric(ring_odd platforms/dgx-spark-ring.cfg 5)
sp_fabric(ring_even platforms/dgx-spark-ring.cfg 6)
sp_fabric(switch_spark platforms/dgx-spark-switch.cfg 8)
sp_fabric(switch_h100 platforms/dgx-h100.cfg 4)
sp_fabric(nvswitch_b200 platforms/dgx-b200.cfg 1)
sp_fabric(pcie_no_p2p platforms/rtx3090-x4.cfg "")
sp_fabric(heterogeneous platforms/lab-mixed.cfg "")
sp_fabric(fat_tree_2tier tests/unit/fixtures/fat-tree-2tier.cfg 8)
sp_fabric(fat_tree_3tier tests/unit/fixtures/fat-tree-3tier.cfg 8)
sp_fabric(direct_2gpu tests/unit/fixtures/direct-2gpu.cfg 2)
sp_fabric(superpod_h100 platforms/superpod-h100.cfg 64)
sp_fabric(spark_cluster platforms/dgx-spark-cluster.cfg 64)
sp_fabric(nvl72_pair platforms/gb200-nvl72.cfg 2)
# SimGrid given some nodes only (as train and replay give it the nodes they
# use): its routes between their GPUs are scalepath's own, link by link,
# across units and tiers; where they would not be (a ring), every node stays.
foreach(case "superpod_h100:platforms/superpod-h100.cfg:96:0,5,40,95:4 of 96"
             "superpod_b200:platforms/superpod-b200.cfg:64:3,33:2 of 64"
             "spark_cluster:platforms/dgx-spark-cluster.cfg:40:1,17-18,39:4 of 40"
             "switch_h100:platforms/dgx-h100.cfg:6:1,4:2 of 6"
             "nvl72:platforms/gb200-nvl72.cfg:8:0,7:2 of 8"
             "fat_tree_3tier:tests/unit/fixtures/fat-tree-3tier.cfg:20:0-1,9,19:4 of 20"
             "ring:platforms/dgx-spark-ring.cfg:4:0,2:4 of 4")
  string(REPLACE ":" ";" c "${case}")
  list(GET c 0 name)
  list(GET c 1 plat)
  list(GET c 2 n)
  list(GET c 3 keep)
  list(GET c 4 said)
  sp_e2e(fabric.nodes.${name} RC 0 ARGS "platform|-p|${plat}|-n|${n}|--nodes|${keep}|--check-routes"
    STDOUT "SimGrid's platform: ${said} nodes.*routes: [0-9]+ pairs checked against SimGrid: all agree")
endforeach()
sp_e2e(fabric.nodes.bad RC 2 ARGS "platform|-p|platforms/dgx-h100.cfg|-n|4|--nodes|1,7|--check-routes"
  STDERR "--nodes: 7: expected nodes from 0 to 3")
sp_e2e(fabric.nodes.bisection RC 2 ARGS "platform|-p|platforms/dgx-h100.cfg|-n|4|--nodes|1|--bisection"
  STDERR "--bisection runs on every node: not with --nodes")
sp_e2e(fabric.nodes.garbage RC 2 ARGS "platform|-p|platforms/dgx-h100.cfg|-n|4|--nodes|1,x"
  STDERR "--nodes: expected node indices and ranges such as 0,5,8-11, got \"1,x\"")

# --- scalepath nccl runs on every shipped tier.
foreach(tier dgx-spark:2 dgx-spark-ring:4 dgx-spark-switch:4 dgx-spark-cluster:64 dgx-station:2 dgx-h100:2 dgx-b200:2
             gb200-nvl72:1 rtx3090-x4:1 rtx5090:1 lab-mixed:3 superpod-h100:32 superpod-b200:32)
  string(REPLACE ":" ";" tn ${tier})
  list(GET tn 0 t)
  list(GET tn 1 n)
  sp_e2e(nccl.tier.${t} RC 0 ARGS "nccl|-p|platforms/${t}.cfg|-n|${n}|-b|1M|-e|1G|-f|32"
    STDOUT " 1073741824 ")
endforeach()

# --- scalepath platforms lists every shipped tier.
sp_e2e(platforms.list RC 0 ARGS "platforms"
  STDOUT "dgx-b200.*dgx-h100.*dgx-spark-cluster.*dgx-spark.*dgx-station.*gb200-nvl72.*lab-mixed.*rtx3090-x4.*rtx5090.*superpod-b200.*superpod-h100")
sp_e2e(platform.xml RC 0 ARGS "platform|-p|platforms/dgx-spark.cfg|-n|2|--xml"
  STDOUT "<platform version=\"4.1\">.*<host id=\"n0g0\".*<host id=\"n1g0\".*</platform>")

# --- Algorithm and protocol change the time the way NCCL's cost model says.
function(sp_compare name fast slow size why)
  add_test(NAME e2e.choice.${name}
    COMMAND ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DFAST=${fast}|-v" "-DSLOW=${slow}|-v"
            "-DPATTERN= ${size} +[0-9]+ +[a-z0-9]+ +[a-z]+ +-?[0-9]+ +([0-9.]+) "
            "-DWHY=${why}" -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/compare.cmake
    WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.choice.${name} PROPERTIES LABELS e2e TIMEOUT 120)
endfunction()
set(spark "nccl|-p|platforms/dgx-spark.cfg|-n|2")
set(h100x2 "nccl|-p|platforms/dgx-h100.cfg|-n|2")
sp_compare(ll_beats_simple_small "${spark}|-b|8K|-e|8K|--proto|LL" "${spark}|-b|8K|-e|8K|--proto|Simple"
  8192 "LL: 16.6 us latency against Simple's 36.4 (NCCL model, 2 Sparks)")
sp_compare(simple_beats_ll_large "${spark}|-b|1G|-e|1G|--proto|Simple" "${spark}|-b|1G|-e|1G|--proto|LL"
  1073741824 "Simple: 24 GB/s against LL's 12 (half of each line is flags)")
sp_compare(ll128_between "${spark}|-b|1G|-e|1G|--proto|LL128" "${spark}|-b|1G|-e|1G|--proto|LL"
  1073741824 "LL128 moves 120 of 128 bytes as data, LL 8 of 16")
sp_compare(tree_beats_ring_small "${h100x2}|-b|8K|-e|8K|--algo|Tree" "${h100x2}|-b|8K|-e|8K|--algo|Ring"
  8192 "Tree latency is logarithmic in nodes; Ring pays 2(n-1) hops")
sp_compare(ring_beats_tree_one_node "nccl|-p|platforms/dgx-h100.cfg|-n|1|-b|1G|-e|1G|--algo|Ring"
  "nccl|-p|platforms/dgx-h100.cfg|-n|1|-b|1G|-e|1G|--algo|Tree"
  1073741824 "on one node a tree is a chain: every NVLink carries S both ways")
sp_e2e(choice.records_selection RC 0 ARGS "${spark}|-b|8K|-e|1G|-f|128|-v"
  STDOUT " 8192 .* Ring +LL +[0-9]+ .* 1048576 .* Ring +LL128 .* 134217728 .* Ring +Simple ")
sp_e2e(choice.nvls_tree_needs_nvswitch RC 2 ARGS "${spark}|--algo|NVLSTree"
  STDERR "no algorithm allowed by --algo/--proto runs all_reduce.*NVLSTree several such nodes")
sp_e2e(choice.bad_algo RC 2 ARGS "${spark}|--algo|Rung" STDERR "option --algo: expected a list of Ring, Tree, PAT")
sp_e2e(choice.tree_not_for_allgather RC 2 ARGS "${spark}|-c|all_gather|--algo|Tree"
  STDERR "no algorithm allowed by --algo/--proto runs all_gather")
# --algo and --proto leave the p2p engine alone, as NCCL_ALGO and NCCL_PROTO do.
sp_e2e(nccl.alltoall_algo RC 0 ARGS "nccl|-p|platforms/dgx-h100.cfg|-c|alltoall|--algo|Ring|--proto|LL128|-b|1M|-e|1M|-v"
  STDOUT "--algo/--proto do not apply.* 1048576 +32768 +float .* P2P +LL ")

# --- -g: a communicator of the first G GPUs of each node (one rail: 48 GB/s NIC).
sp_e2e(nccl.ranks_per_node RC 0 ARGS "nccl|-p|platforms/dgx-h100.cfg|-n|2|-g|1|-b|1G|-e|1G|-v"
  STDOUT "1 rank\\(s\\)|2 rank\\(s\\) in the communicator.* 1073741824 .* 4[5-8]\\.[0-9]+ +N/A")
# -r: the root's rank in the communicator, as nccl-tests' -r (e2e.emulate.root
# checks its times); other collectives ignore it, as nccl-tests does.
sp_e2e(nccl.root_ignored RC 0 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-r|1|-b|1M|-e|1M"
  STDOUT "1048576 +262144 +float +sum +-1 ")
sp_e2e(nccl.bad_root RC 2 ARGS "nccl|-p|platforms/dgx-h100.cfg|-c|broadcast|-r|8|-o|${SP_OUT}/bad-root.h5"
  STDERR "nccl: -r 8: the communicator's ranks are 0 to 7" ABSENT "${SP_OUT}/bad-root.h5")
sp_e2e(nccl.ranks_per_node_too_many RC 2 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|-g|2"
  STDERR "option -g 2: node 0 of \"dgx-spark\" has 1 GPU")

# --- --gpus-per-thread: one host thread launching 8 GPUs' kernels (nccl-tests
# -g 8). A DGX H100's nccl.launch_us is 3.312 us, so an iteration takes at
# least 8 x 3.312 = 26.50 us; an 8-byte all-reduce's collective takes 15.00
# (NCCL's Ring LL latency), so its time is raised; a 64 MiB one takes far
# longer, and check_h5.py checks time = max(collective_time, 8 x 3.312) on
# every row of the HDF5 table.
sp_e2e(nccl.host_launches RC 0
  ARGS "nccl|-p|platforms/dgx-h100.cfg|-b|8|-e|64M|-i|67108856|-v|--gpus-per-thread|8"
  STDOUT "8 launch\\(es\\) x 3\\.312 us = 26\\.50 us .* 8 +2 +float +sum +-1 +26\\.50 .* Ring +LL +1 +1 +15\\.00 +15\\.00 .* 67108864 +16777216 +float +sum +-1 +[0-9.]+ .* NVLS +Simple +16 +1 ")
sp_e2e(nccl.host_platform_launch RC 0 ARGS "nccl|-p|tests/data/emu/slow-host.cfg|-b|8|-e|8|--gpus-per-thread|8"
  STDOUT "8 launch\\(es\\) x 10\\.000 us = 80\\.00 us .* 8 +2 +float +sum +-1 +80\\.00 ")
sp_e2e(nccl.host_not_measured RC 2 ARGS "nccl|-p|platforms/dgx-spark.cfg|-n|2|--gpus-per-thread|1"
  STDERR "dgx-spark.cfg:[0-9]+: error: option --gpus-per-thread: \"dgx-spark\" gives no nccl.launch_us")
sp_e2e(nccl.host_uneven RC 2 ARGS "nccl|-p|platforms/dgx-h100.cfg|-g|6|--gpus-per-thread|4"
  STDERR "option --gpus-per-thread 4: node 0 has 6 rank\\(s\\) in the communicator, not a multiple of 4")
sp_e2e(nccl.host_bad_value RC 2 ARGS "nccl|-p|platforms/dgx-h100.cfg|--gpus-per-thread|0"
  STDERR "option --gpus-per-thread: expected an integer in \\[1, 1024\\], got \"0\"")
add_test(NAME e2e.h5.host_write
  COMMAND ${SP_EXE} nccl -p platforms/dgx-h100.cfg -b 8 -e 64M -f 32 --gpus-per-thread 8 -o ${SP_OUT}/host.h5
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.h5.host_read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_h5.py
  ${SP_OUT}/host.h5 all_reduce 8 any)
set_tests_properties(e2e.h5.host_write e2e.h5.host_read PROPERTIES LABELS e2e TIMEOUT 120)
set_tests_properties(e2e.h5.host_read PROPERTIES DEPENDS e2e.h5.host_write)

# --- Replay of AICB / ASTRA-sim 1.0 text workloads.
set(aicb ${SP_ROOT}/tests/data/aicb)
sp_e2e(replay.gpt13b_h100 RC 0
  ARGS "replay|-p|platforms/dgx-h100.cfg|-t|${aicb}/GPT13B_megatron_tp8_pp1_mbs1_A100.txt|-o|${SP_OUT}/gpt13b.h5"
  STDOUT "92 layers.*iteration time: [0-9.]+ ms.*per layer.*attention_layer")
sp_e2e(replay.gpt13b_needs_8 RC 2
  ARGS "replay|-p|platforms/dgx-spark.cfg|-n|2|-t|${aicb}/GPT13B_megatron_tp8_pp1_mbs1_A100.txt|-o|${SP_OUT}/no.h5"
  STDERR "model_parallel_NPU_group: 8 and ep: 1 must divide the 2 rank\\(s\\)" ABSENT "${SP_OUT}/no.h5")
add_test(NAME e2e.replay.micro_write
  COMMAND ${SP_EXE} replay -p platforms/dgx-spark.cfg -n 2 -t ${aicb}/micro_all_reduce.txt -o ${SP_OUT}/micro.h5
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.replay.micro_nccl
  COMMAND ${SP_EXE} nccl -p platforms/dgx-spark.cfg -n 2 -b 4K -e 1G -f 2 -o ${SP_OUT}/micro-nccl.h5
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.replay.micro_matches_nccl
  COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_micro.py ${SP_OUT}/micro.h5 ${SP_OUT}/micro-nccl.h5)
set_tests_properties(e2e.replay.micro_matches_nccl PROPERTIES DEPENDS "e2e.replay.micro_write;e2e.replay.micro_nccl")
set_tests_properties(e2e.replay.micro_write e2e.replay.micro_nccl e2e.replay.micro_matches_nccl PROPERTIES LABELS e2e)
file(STRINGS ${SP_ROOT}/tests/bad/aicb/EXPECT aicb_lines REGEX "^[^#]")
foreach(line IN LISTS aicb_lines)
  string(REGEX MATCH "^([^ ]+) +(.*)$" _ "${line}")
  set(f ${CMAKE_MATCH_1})
  set(re ${CMAKE_MATCH_2})
  string(REPLACE ".txt" "" case ${f})
  sp_e2e(bad.replay.${case} RC 2
    ARGS "replay|-p|platforms/dgx-spark.cfg|-n|2|-t|tests/bad/aicb/${f}|-o|${SP_OUT}/bad-${case}.h5"
    STDERR "${re}" ABSENT "${SP_OUT}/bad-${case}.h5")
endforeach()

# --- Chakra execution traces.
set(chakra ${SP_ROOT}/tests/data/chakra)
# Microbenchmarks: the replayed collective takes what scalepath nccl says for the same size.
foreach(c all_reduce all_gather reduce_scatter all_to_all)
  foreach(n 4 8 16)
    set(nc ${c})
    if(c STREQUAL "all_to_all")
      set(nc alltoall)
    endif()
    set(t e2e.chakra.micro.${c}.${n})
    add_test(NAME ${t}.replay COMMAND ${SP_EXE} replay -p platforms/dgx-spark-switch.cfg -n ${n}
      -t ${chakra}/microbenchmarks/${c}/${n}npus_1MB/${c} -o ${SP_OUT}/${c}-${n}.h5 WORKING_DIRECTORY ${SP_ROOT})
    add_test(NAME ${t}.nccl COMMAND ${SP_EXE} nccl -p platforms/dgx-spark-switch.cfg -n ${n} -c ${nc}
      -b 1M -e 1M -o ${SP_OUT}/${c}-${n}-nccl.h5 WORKING_DIRECTORY ${SP_ROOT})
    add_test(NAME ${t}.same COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_chakra_micro.py
      ${SP_OUT}/${c}-${n}.h5 ${SP_OUT}/${c}-${n}-nccl.h5 ${nc})
    set_tests_properties(${t}.same PROPERTIES DEPENDS "${t}.replay;${t}.nccl")
    set_tests_properties(${t}.replay ${t}.nccl ${t}.same PROPERTIES LABELS e2e)
  endforeach()
endforeach()
# A late member: no rank of a collective ends before the late rank's data
# could reach it (one-stage plans start when the last member begins).
add_test(NAME e2e.replay.late_member COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_late_member.py
  ${SP_EXE} ${SP_OUT})
set_tests_properties(e2e.replay.late_member PROPERTIES LABELS e2e)
# Gather and scatter (Chakra types 3 and 4; tests/data/chakra/generated/make.py).
foreach(c gather scatter)
  set(t e2e.chakra.generated.${c})
  add_test(NAME ${t}.replay COMMAND ${SP_EXE} replay -p platforms/dgx-spark-switch.cfg -n 4
    -t ${chakra}/generated/${c}/${c} -o ${SP_OUT}/${c}-4.h5 WORKING_DIRECTORY ${SP_ROOT})
  add_test(NAME ${t}.nccl COMMAND ${SP_EXE} nccl -p platforms/dgx-spark-switch.cfg -n 4 -c ${c}
    -b 1M -e 1M -o ${SP_OUT}/${c}-4-nccl.h5 WORKING_DIRECTORY ${SP_ROOT})
  add_test(NAME ${t}.same COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_chakra_micro.py
    ${SP_OUT}/${c}-4.h5 ${SP_OUT}/${c}-4-nccl.h5 ${c})
  set_tests_properties(${t}.same PROPERTIES DEPENDS "${t}.replay;${t}.nccl")
  set_tests_properties(${t}.replay ${t}.nccl ${t}.same PROPERTIES LABELS e2e)
endforeach()
# On DGX H100 too (one node of 8 GPUs; two for 16 ranks).
sp_e2e(chakra.micro.h100_16 RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|2|-t|${chakra}/microbenchmarks/all_reduce/16npus_1MB/all_reduce"
  STDOUT "iteration time")
# The real PyTorch-derived trace (gzipped here): dangling dependencies warned
# about; the GPU compute sum is the trace's (292.828 ms of COMP_NODE durations).
sp_e2e(chakra.pytorch RC 0 ARGS "replay|-p|platforms/dgx-spark.cfg|-n|1|-t|${chakra}/pytorch/chakra"
  STDOUT " 0 +[0-9.]+ +292\\.828 " STDERR "warning: [0-9]+ dependencies name nodes absent from the trace")
sp_e2e(chakra.pytorch_on_h100 RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|1|-t|${chakra}/pytorch/chakra"
  STDOUT "iteration time")
# A ring all-reduce written as send/recv/compute nodes.
sp_e2e(chakra.custom_ring RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-t|${chakra}/custom_ring_allreduce_8npus_1MB/custom_allreduce|-o|${SP_OUT}/ring.h5"
  STDOUT " 7 +[0-9.]+ .*iteration time")
sp_e2e(chakra.too_many_ranks RC 2 ARGS "replay|-p|platforms/dgx-spark.cfg|-n|2|-t|${chakra}/microbenchmarks/all_reduce/4npus_1MB/all_reduce"
  STDERR "the trace has 4 ranks .* the platform 2")
file(STRINGS ${SP_ROOT}/tests/bad/chakra/EXPECT chakra_lines REGEX "^[^#]")
foreach(line IN LISTS chakra_lines)
  string(REGEX MATCH "^([^ ]+) +(.*)$" _ "${line}")
  set(case ${CMAKE_MATCH_1})
  set(re ${CMAKE_MATCH_2})
  sp_e2e(bad.chakra.${case} RC 2
    ARGS "replay|-p|platforms/dgx-spark-switch.cfg|-n|4|-t|tests/bad/chakra/${case}|--format|chakra|-o|${SP_OUT}/bad-chakra-${case}.h5"
    STDERR "${re}" ABSENT "${SP_OUT}/bad-chakra-${case}.h5")
endforeach()
sp_e2e(chakra.mlp32_h100 RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|4|-t|${chakra}/tutorials/mlp_model_parallel_32/MLP_ModelParallel"
  STDOUT "iteration time")
sp_e2e(chakra.mlp32_sparks RC 0 ARGS "replay|-p|platforms/dgx-spark-switch.cfg|-n|32|-t|${chakra}/tutorials/mlp_model_parallel_32/MLP_ModelParallel"
  STDOUT "iteration time")
sp_e2e(chakra.allreduce128_sparks RC 0 ARGS "replay|-p|platforms/dgx-spark-cluster.cfg|-n|128|-t|${chakra}/tutorials/allreduce_2d_128/allreduce"
  STDOUT "iteration time")
sp_e2e(chakra.allreduce128_superpod RC 0 ARGS "replay|-p|platforms/superpod-h100.cfg|-n|16|-t|${chakra}/tutorials/allreduce_2d_128/allreduce"
  STDOUT "iteration time")
# Roofline: nodes with num_ops / tensor_size and no duration (1 ms each on H100 SXM).
sp_e2e(chakra.roofline RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|1|-t|${chakra}/roofline/roofline"
  STDOUT "2 compute operation\\(s\\) timed by the roofline.* 0 +2\\.000 +2\\.000 ")
# Process groups from a comm-groups file: two all-reduces of 4 ranks instead of one of 8.
sp_e2e(chakra.comm_groups RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|1|-t|${chakra}/microbenchmarks/all_reduce/8npus_1MB/all_reduce|--comm-groups|${chakra}/groups-2x4.json|-o|${SP_OUT}/groups.h5"
  STDOUT "iteration time")
sp_e2e(bad.chakra.groups_json RC 2 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|1|-t|${chakra}/microbenchmarks/all_reduce/8npus_1MB/all_reduce|--comm-groups|tests/bad/chakra/groups-bad.json"
  STDERR "groups-bad.json:3: error: comm groups: expected ',' or '\\]' in a list of ranks")
# A rank twice in a group, a group twice, bytes after the closing brace: said at the line.
foreach(c "dup-rank:3: error: comm groups: group \"1\" lists rank 4 twice"
          "dup-name:3: error: comm groups: group \"0\" is listed twice"
          "trailing:5: error: comm groups: expected nothing after the closing '}'")
  string(FIND "${c}" ":" colon)
  string(SUBSTRING "${c}" 0 ${colon} name)
  string(SUBSTRING "${c}" ${colon} -1 want)
  string(REPLACE "-" "_" tname "${name}")
  sp_e2e(bad.chakra.groups_${tname} RC 2 ARGS "replay|-p|platforms/dgx-h100.cfg|-n|1|-t|${chakra}/microbenchmarks/all_reduce/8npus_1MB/all_reduce|--comm-groups|tests/bad/chakra/groups-${name}.json"
    STDERR "groups-${name}.json${want}")
endforeach()
# Rescaling compute recorded on an A100 (AICB's sample) to the H100: faster by the bf16 peak ratio.
sp_e2e(replay.rescaled RC 0 ARGS "replay|-p|platforms/dgx-h100.cfg|-t|${aicb}/GPT13B_megatron_tp8_pp1_mbs1_A100.txt|--recorded-on|A100-SXM"
  STDOUT "rescaled from A100-SXM.* 0 +[0-9.]+ +65\\.[0-9]+ ")
sp_e2e(replay.unknown_gpu RC 2 ARGS "replay|-p|platforms/dgx-h100.cfg|-t|${aicb}/GPT13B_megatron_tp8_pp1_mbs1_A100.txt|--recorded-on|A200"
  STDERR "GPU \"A200\" is not in the platform's catalogue")
# Timelines: Chrome-trace JSON, one track per rank.
add_test(NAME e2e.timeline.write COMMAND ${SP_EXE} replay -p platforms/dgx-h100.cfg
  -t ${aicb}/GPT13B_megatron_tp8_pp1_mbs1_A100.txt --timeline ${SP_OUT}/gpt13b.json WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.timeline.read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_timeline.py
  ${SP_OUT}/gpt13b.json 8 4328)
set_tests_properties(e2e.timeline.read PROPERTIES DEPENDS e2e.timeline.write)
add_test(NAME e2e.timeline.chakra_write COMMAND ${SP_EXE} replay -p platforms/dgx-h100.cfg
  -t ${chakra}/custom_ring_allreduce_8npus_1MB/custom_allreduce --timeline ${SP_OUT}/ring.json WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.timeline.chakra_read COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_timeline.py
  ${SP_OUT}/ring.json 8 280)
set_tests_properties(e2e.timeline.chakra_read PROPERTIES DEPENDS e2e.timeline.chakra_write)
set_tests_properties(e2e.timeline.write e2e.timeline.read e2e.timeline.chakra_write e2e.timeline.chakra_read
  PROPERTIES LABELS e2e)
sp_e2e(timeline.unwritable RC 3 ARGS "replay|-p|platforms/dgx-h100.cfg|-t|${aicb}/GPT13B_megatron_tp8_pp1_mbs1_A100.txt|--timeline|${SP_OUT}/no-dir/t.json"
  STDERR "t.json: error: cannot write the timeline" ABSENT "${SP_OUT}/no-dir/t.json")
add_test(NAME e2e.analysis.gantt
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_PYTHON3}
          "-DARGS=analysis/replay_gantt.py|${SP_OUT}/gpt13b.h5|-o|${SP_OUT}/gantt.png" -DEXPECT_RC=0
          "-DEXPECT_STDOUT=wrote .*gantt.png" "-DNONEMPTY=${SP_OUT}/gantt.png|${SP_OUT}/gantt.svg"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.analysis.gantt PROPERTIES DEPENDS e2e.replay.gpt13b_h100 LABELS e2e)
sp_e2e(analysis.gantt_refuses_nccl RC 2 EXE ${SP_PYTHON3}
  ARGS "analysis/replay_gantt.py|${SP_OUT}/spark.h5|-o|${SP_OUT}/no-gantt.png"
  STDERR "no /replay/ops table" ABSENT "${SP_OUT}/no-gantt.png")

# analysis/plot.py: every figure of an nccl and a replay result exists and
# is non-empty; the breakdown's arithmetic holds (check_plot.py).
add_test(NAME e2e.analysis.plot
  COMMAND ${CMAKE_COMMAND} -DEXE=${SP_PYTHON3}
          "-DARGS=analysis/plot.py|${SP_OUT}/spark.h5|${SP_OUT}/gpt13b.h5|-o|${SP_OUT}/figs" -DEXPECT_RC=0
          "-DNONEMPTY=${SP_OUT}/figs/busbw.png|${SP_OUT}/figs/busbw.svg|${SP_OUT}/figs/gpt13b-gantt.png|${SP_OUT}/figs/gpt13b-gantt.svg|${SP_OUT}/figs/gpt13b-breakdown.png|${SP_OUT}/figs/gpt13b-breakdown.svg"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
  WORKING_DIRECTORY ${SP_ROOT})
add_test(NAME e2e.analysis.breakdown COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_plot.py ${SP_OUT}/gpt13b.h5)
set_tests_properties(e2e.analysis.plot e2e.analysis.breakdown PROPERTIES
  DEPENDS "e2e.replay.gpt13b_h100;e2e.h5.write" LABELS e2e)
sp_e2e(analysis.plot_refuses_partial RC 2 EXE ${SP_PYTHON3}
  ARGS "analysis/plot.py|tests/bad/garbage.cfg|-o|${SP_OUT}/no-figs"
  STDERR "plot: error: .*garbage.cfg" ABSENT "${SP_OUT}/no-figs")

# --- Memory per GPU (the accounting is unit-tested in unit.model).
set(models ${SP_ROOT}/workloads/models)
sp_e2e(memory.qlora_70b_spark RC 0 ARGS "memory|-m|${models}/llama3-70b.cfg|-p|platforms/dgx-spark.cfg|--finetune|qlora|--recompute|full|--seq|2048"
  STDOUT "Llama 3 70B.*total +[0-9.]+ GB of 128 GB: fits")
sp_e2e(memory.full_8b_spark RC 0 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-spark.cfg|--seq|2048"
  STDOUT "optimizer states +96\\.[0-9]+ GB.*does NOT fit")
sp_e2e(memory.405b_superpod RC 0 ARGS "memory|-m|${models}/llama3-405b.cfg|-p|platforms/superpod-h100.cfg|-n|1024|--tp|8|--pp|16|--zero|1|--seq|8192|--recompute|selective"
  STDOUT "TP 8 x CP 1 x PP 16 x DP 64, ZeRO-1.* total .* of 80 GB")
# MoE routing: memory and train agree under imbalance, capacity and padding;
# bad settings are refused as train refuses them.
add_test(NAME e2e.memory.moe_agrees_with_train COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_moe_memory.py
  ${SP_EXE} WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.memory.moe_agrees_with_train PROPERTIES LABELS e2e TIMEOUT 300)
# train's --gbs and --grad-fp32: memory counts what train counts.
add_test(NAME e2e.memory.options_agree_with_train COMMAND ${SP_PYTHON3}
  ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_memory_options.py ${SP_EXE} WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.memory.options_agree_with_train PROPERTIES LABELS e2e TIMEOUT 300)
sp_e2e(memory.gbs_not_multiple RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--gbs|12"
  STDERR "global batch 12 is not a multiple of micro-batch 1 x DP 8")
sp_e2e(memory.moe_pad_alone RC 2 ARGS "memory|-m|${models}/mixtral-8x7b.cfg|-p|platforms/dgx-h100.cfg|--moe-pad"
  STDERR "MoE padding pads each expert's input to its capacity: it needs a capacity factor")
sp_e2e(memory.moe_capacity_dense RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--moe-capacity|2"
  STDERR "MoE capacity: Llama 3 8B has no mixture of experts")
# FP8 keeps 1-byte copies of the linear layers' inputs: NVIDIA's Qwen3 30B-A3B
# layout on 16 H100 fits with fp8 GEMMs, as it ran, and not in bf16.
set(q30 ${models}/qwen3-30b-a3b.cfg|-p|platforms/superpod-h100.cfg|-n|2|--pp|2|--vpp|24|--ep|8|--seq|4096|--mbs|2|--zero|1)
sp_e2e(memory.fp8_inputs RC 0 ARGS "memory|-m|${q30}|--precision|fp8" STDOUT "fp8 GEMMs.*total +[0-9.]+ GB of 80 GB: fits")
sp_e2e(memory.bf16_inputs RC 0 ARGS "memory|-m|${q30}" STDOUT "bf16 GEMMs.*total +[0-9.]+ GB of 80 GB: does NOT fit")
# MLPerf's Llama 2 70B LoRA layout on a DGX H100 (TP 4): with bf16 weights and
# their FP8 copies kept it does not fit; stored in FP8 and quantized each
# micro-batch, as the run did (fp8_params, disable_parameter_transpose_cache), it does.
set(mlperf ${models}/llama2-70b.cfg|-p|platforms/dgx-h100.cfg|--tp|4|--seq|8192|--microbatches|4|--finetune|lora|--lora-targets|attention|--precision|fp8)
sp_e2e(memory.fp8_weight_copies RC 0 ARGS "memory|-m|${mlperf}" STDOUT "fp8 GEMMs.*does NOT fit")
sp_e2e(memory.fp8_params RC 0 ARGS "memory|-m|${mlperf}|--fp8-params|--no-weight-cache"
  STDOUT "fp8 GEMMs, FP8 parameters, no weight cache.*total +[0-9.]+ GB of 80 GB: fits")
sp_e2e(memory.fp8_params_bf16 RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--fp8-params"
  STDERR "FP8 parameters: needs FP8 training \\(precision fp8\\), not bf16")
sp_e2e(memory.lora_dropout RC 0 ARGS "memory|-m|${mlperf}|--fp8-params|--no-weight-cache|--lora-dropout|0.1"
  STDOUT "no weight cache, LoRA dropout 0.1.*total +[0-9.]+ GB of 80 GB: fits")
sp_e2e(train.lora_dropout_full RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${models}/llama3-8b.cfg|--lora-dropout|0.1|-o|${SP_OUT}/dropout-full.h5"
  STDERR "option --lora-dropout applies to --finetune lora or qlora, not to full training"
  ABSENT "${SP_OUT}/dropout-full.h5")
sp_e2e(memory.lora_dropout_range RC 2 ARGS "memory|-m|${mlperf}|--lora-dropout|1.5" STDERR "--lora-dropout")
sp_e2e(train.fp8_params_qlora RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${models}/llama3-8b.cfg|--finetune|qlora|--precision|fp8|--fp8-params|-o|${SP_OUT}/fp8-qlora.h5"
  STDERR "FP8 parameters: not with QLoRA" ABSENT "${SP_OUT}/fp8-qlora.h5")
sp_e2e(memory.bad_precision RC 2 ARGS "memory|-m|${q30}|--precision|fp7" STDERR "--precision: expected a precision")
sp_e2e(memory.no_fp8 RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/rtx3090-x4.cfg|--precision|fp8"
  STDERR "GPU RTX3090 has no fp8 peak rate")
sp_e2e(memory.bad_tp RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--tp|3"
  STDERR "tensor parallelism 3 does not divide both the 32 heads and the 8 KV heads")
# Qwen3 30B-A3B has 4 key/value heads: TP 8 would split one (Megatron-LM refuses it).
sp_e2e(train.kv_heads_under_tp RC 2
  ARGS "train|-p|platforms/dgx-h100.cfg|-m|${models}/qwen3-30b-a3b.cfg|--tp|8|--ep|1|-o|${SP_OUT}/kv-tp.h5"
  STDERR "TP 8 does not divide Qwen3 30B-A3B's 32 attention heads and 4 key/value heads" ABSENT "${SP_OUT}/kv-tp.h5")
# memory refuses what train refuses of context parallelism, and shows CP in its layout.
sp_e2e(memory.cp_chunks RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--cp|8|--seq|131064"
  STDERR "context parallelism cuts each sequence into 2 x CP = 16 chunks")
sp_e2e(memory.cp_layout RC 0 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--cp|8|--seq|131072|--zero|1|--recompute|full"
  STDOUT "# layout: TP 1 x CP 8 x PP 1 x DP 1, ZeRO-1")
sp_e2e(memory.too_many RC 2 ARGS "memory|-m|${models}/llama3-8b.cfg|-p|platforms/dgx-h100.cfg|--tp|8|--dp|2"
  STDERR "needs more than the platform's 8 GPUs")

# --- Mutation fuzzing of the loaders (fixed seed, so deterministic): no
# crash, no sanitizer report, exit 0 or 2 with an error message. Runs in the
# plain and in the ASan+UBSan build (tests/fuzz/mutate_loaders.py).
add_test(NAME fuzz.loaders COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/mutate_loaders.py
  $<TARGET_FILE:scalepath> ${SP_ROOT} ${SP_OUT}/fuzz 200 1)
set_tests_properties(fuzz.loaders PROPERTIES LABELS "e2e;fuzz" TIMEOUT 600)
# Random training layouts (fixed seed): exit 0 or 2 with an error and no
# output file; a simulated step accounts for its whole time on every stage,
# and memory counts what train counts (tests/fuzz/random_layouts.py).
add_test(NAME fuzz.layouts COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/random_layouts.py
  $<TARGET_FILE:scalepath> ${SP_ROOT} ${SP_OUT}/layouts 30 1)
set_tests_properties(fuzz.layouts PROPERTIES LABELS "e2e;fuzz" TIMEOUT 600)
include(${CMAKE_CURRENT_LIST_DIR}/train.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/study.cmake)
# scalepath calibrate: a known distortion fitted back, and a calibrated platform that reproduces the log.
add_test(NAME e2e.calibrate.roundtrip COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_calibrate.py
  ${SP_EXE} ${SP_OUT}/calibrate WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.calibrate.roundtrip PROPERTIES LABELS e2e)
# A log run with NCCL_ALGO=Ring is simulated with Ring (--algo): at 8 GiB
# the simulated time is Ring's (~40.6 ms, the log 40.8), not NVLS's (30.7).
sp_e2e(calibrate.algo RC 0
  ARGS "calibrate|-p|platforms/dgx-h100.cfg|--log|bench/data/nccl-tests/h100x8_allreduce_ring.log|--algo|Ring"
  STDOUT "8589934592 +40848\\.80 +4[01][0-9][0-9][0-9]\\.")
# The same log with its host modelled: the sizes 8 launches outlast are marked, not fitted.
sp_e2e(calibrate.host RC 0
  ARGS "calibrate|-p|platforms/dgx-h100.cfg|--log|bench/data/nccl-tests/h100x8_allreduce_ring.log|--algo|Ring|--gpus-per-thread|8"
  STDOUT "the 17 size\\(s\\) marked host.* 8 +37\\.33 +26\\.50 +26\\.50 .* host .* 8589934592 +40848\\.80 +4[01][0-9][0-9][0-9]\\..*median busbw error of the 14 fitted sizes")
sp_e2e(bad.calibrate.host_not_measured RC 2
  ARGS "calibrate|-p|platforms/dgx-spark.cfg|-n|2|--log|tests/data/nccl-tests/synthetic.log|--gpus-per-thread|1"
  STDERR "\"dgx-spark\" gives no nccl.launch_us")
sp_e2e(bad.calibrate.host_uneven RC 2
  ARGS "calibrate|-p|platforms/dgx-h100.cfg|-g|6|--gpus-per-thread|4|--log|bench/data/nccl-tests/h100x8_allreduce_ring.log"
  STDERR "option --gpus-per-thread 4: node 0 has 6 rank\\(s\\) in the communicator, not a multiple of 4")
# A log of one thread driving 8 B200s, on a platform with no measured launch time: a warning that says so.
sp_e2e(calibrate.host_unknown RC 0
  ARGS "calibrate|-p|platforms/dgx-b200.cfg|--log|bench/data/nccl-tests/b200x8_allreduce_abridged.log"
  STDERR "b200x8_allreduce_abridged.log:7: warning: nGpus 8: .*\"dgx-b200\" gives no nccl.launch_us")
# A log whose every size the host's launches outlast (a fixture host of 10 us per launch): nothing to fit, no file.
sp_e2e(bad.calibrate.host_all_sizes RC 2
  ARGS "calibrate|-p|tests/data/emu/slow-host.cfg|--log|tests/data/nccl-tests/synthetic.log|--gpus-per-thread|8|-o|${SP_OUT}/no-fit.cfg"
  STDERR "synthetic.log: error: fewer than two sizes to fit \\(got 0\\) where the collective outlasts 8 launches \\(80\\.00 us\\)"
  ABSENT "${SP_OUT}/no-fit.cfg")
sp_e2e(bad.calibrate.gpus RC 2
  ARGS "calibrate|-p|platforms/dgx-h100.cfg|-g|9|--log|tests/data/nccl-tests/synthetic.log"
  STDERR "option -g 9: node 0 of \"dgx-h100\" has 8 GPU\\(s\\)")
sp_e2e(bad.calibrate.unwritable RC 3
  ARGS "calibrate|-p|platforms/dgx-spark.cfg|-n|2|--log|tests/data/nccl-tests/synthetic.log|-o|${SP_OUT}/no-dir/cal.cfg"
  STDERR "cannot write" ABSENT "${SP_OUT}/no-dir/cal.cfg.partial")
# A rooted collective's log: each row planned at its root column; a root
# outside the communicator is reported, every such row, before anything runs.
sp_e2e(bad.calibrate.root RC 2
  ARGS "calibrate|-p|platforms/dgx-spark.cfg|-n|2|-c|broadcast|--log|tests/bad/calibrate-root.log|-o|${SP_OUT}/bad-root.cfg"
  STDERR "calibrate-root.log:6: error: root 2 is not a rank of the 2-rank communicator.*calibrate-root.log:7: error: root 7"
  ABSENT "${SP_OUT}/bad-root.cfg")
sp_e2e(bad.calibrate.root_of_other RC 2
  ARGS "calibrate|-p|platforms/dgx-spark.cfg|-n|2|--log|tests/bad/calibrate-root.log"
  STDERR "calibrate-root.log:5: error: root 1: a row of a rooted collective, where all_reduce has none")
# A folder where a file is wanted: said as such, by every reader.
sp_e2e(bad.folder.platform RC 2 ARGS "check|tests/bad/chakra" STDERR "tests/bad/chakra: error: cannot read: a folder, not a file")
sp_e2e(bad.folder.log RC 2 ARGS "calibrate|-p|platforms/dgx-spark.cfg|-n|2|--log|tests/bad/chakra"
  STDERR "tests/bad/chakra: error: cannot read: a folder, not a file")
sp_e2e(bad.folder.aicb RC 2 ARGS "replay|-p|platforms/dgx-h100.cfg|-t|tests/bad/chakra"
  STDERR "tests/bad/chakra: error: cannot read: a folder, not a file")
sp_e2e(bad.folder.groups RC 2
  ARGS "replay|-p|platforms/dgx-h100.cfg|-t|tests/data/chakra/microbenchmarks/all_reduce/8npus_1MB/all_reduce|--format|chakra|--comm-groups|tests/bad/chakra"
  STDERR "tests/bad/chakra: error: cannot read: a folder, not a file")
sp_e2e(bad.calibrate.log RC 2
  ARGS "calibrate|-p|platforms/dgx-spark.cfg|-n|2|--log|tests/bad/calibrate-garbage.log|-o|${SP_OUT}/bad-cal.cfg"
  STDERR "calibrate-garbage.log:3: error: not an nccl-tests row" ABSENT "${SP_OUT}/bad-cal.cfg")
sp_e2e(bad.calibrate.zero_time RC 2
  ARGS "calibrate|-p|platforms/dgx-h100.cfg|--log|tests/bad/calibrate-zero-time.log|-o|${SP_OUT}/bad-cal0.cfg"
  STDERR "calibrate-zero-time.log:4: error: a time of 0 us for 1048576 bytes" ABSENT "${SP_OUT}/bad-cal0.cfg")
sp_e2e(bad.calibrate.beyond_platform RC 2
  ARGS "calibrate|-p|platforms/dgx-h100.cfg|--log|tests/bad/calibrate-not-this-platform.log|-o|${SP_OUT}/bad-cal1.cfg"
  STDERR "calibrate-not-this-platform.log: error: the fit .* is beyond what a platform file takes"
  ABSENT "${SP_OUT}/bad-cal1.cfg")
