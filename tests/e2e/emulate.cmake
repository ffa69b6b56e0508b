# `scalepath emulate`: real programs written against NCCL's and CUDA's APIs
# (tests/data/emu, workloads/emu), built here as loadable modules, run on
# simulated platforms: their data checked by themselves, their times against
# `scalepath nccl`, their misuse and hangs reported.
function(sp_emu_program name src)
  add_library(emu_${name} MODULE ${src})
  target_include_directories(emu_${name} PRIVATE ${PROJECT_SOURCE_DIR}/sim/emu/include)
  set_target_properties(emu_${name} PROPERTIES PREFIX "")
endfunction()
sp_emu_program(collectives_check ${SP_ROOT}/tests/data/emu/collectives_check.c)
sp_emu_program(misuse ${SP_ROOT}/tests/data/emu/misuse.c)
sp_emu_program(hang ${SP_ROOT}/tests/data/emu/hang.c)
sp_emu_program(allreduce_perf ${SP_ROOT}/workloads/emu/allreduce_perf.c)
sp_emu_program(overlap ${SP_ROOT}/workloads/emu/overlap.c)
sp_emu_program(mpi_allreduce ${SP_ROOT}/workloads/emu/mpi_allreduce.c)
sp_emu_program(memcpy_perf ${SP_ROOT}/workloads/emu/memcpy_perf.c)
sp_emu_program(mpi_hang ${SP_ROOT}/tests/data/emu/mpi_hang.c)
sp_emu_program(mpi_split ${SP_ROOT}/tests/data/emu/mpi_split.c)
sp_emu_program(mpi_p2p ${SP_ROOT}/tests/data/emu/mpi_p2p.c)
sp_emu_program(mpi_any ${SP_ROOT}/tests/data/emu/mpi_any.c)
sp_emu_program(mpi_groups ${SP_ROOT}/tests/data/emu/mpi_groups.c)
sp_emu_program(legacy_stream ${SP_ROOT}/tests/data/emu/legacy_stream.c)
sp_emu_program(legacy_groups ${SP_ROOT}/tests/data/emu/legacy_groups.c)
sp_emu_program(legacy_hang ${SP_ROOT}/tests/data/emu/legacy_hang.c)
sp_emu_program(per_thread_stream ${SP_ROOT}/tests/data/emu/per_thread_stream.c)
sp_emu_program(ptds ${SP_ROOT}/tests/data/emu/ptds.c)
target_compile_definitions(emu_ptds PRIVATE CUDA_API_PER_THREAD_DEFAULT_STREAM)
sp_emu_program(tls ${SP_ROOT}/tests/data/emu/tls.c)
sp_emu_program(event_hang ${SP_ROOT}/tests/data/emu/event_hang.c)
sp_emu_program(peer ${SP_ROOT}/tests/data/emu/peer.c)
sp_emu_program(mpi_some ${SP_ROOT}/tests/data/emu/mpi_some.c)
sp_emu_program(mpi_comms ${SP_ROOT}/tests/data/emu/mpi_comms.c)
sp_emu_program(threads ${SP_ROOT}/tests/data/emu/threads.c)
sp_emu_program(threads_sync ${SP_ROOT}/tests/data/emu/threads_sync.c)
sp_emu_program(polling ${SP_ROOT}/tests/data/emu/polling.c)
sp_emu_program(polling_threads ${SP_ROOT}/tests/data/emu/polling_threads.c)
sp_emu_program(root_late ${SP_ROOT}/tests/data/emu/root_late.c)
sp_emu_program(pxn_sends ${SP_ROOT}/tests/data/emu/pxn_sends.c)
sp_emu_program(rooted ${SP_ROOT}/tests/data/emu/rooted.c)
sp_emu_program(mpi_time ${SP_ROOT}/tests/data/emu/mpi_time.c)
sp_emu_program(late_member ${SP_ROOT}/tests/data/emu/late_member.c)
sp_emu_program(launch_costs ${SP_ROOT}/tests/data/emu/launch_costs.c)
sp_emu_program(init_then_hang ${SP_ROOT}/tests/data/emu/init_then_hang.c)
sp_emu_program(init_hang ${SP_ROOT}/tests/data/emu/init_hang.c)
sp_emu_program(args ${SP_ROOT}/tests/data/emu/args.c)
sp_emu_program(no_main ${SP_ROOT}/tests/data/emu/no_main.c)
sp_emu_program(real_codes ${SP_ROOT}/tests/data/emu/real_codes.c)
sp_emu_program(abi_values ${SP_ROOT}/tests/data/emu/abi_values.c)
target_link_libraries(emu_collectives_check PRIVATE m)

# Every collective, type and reduction gives NCCL's answer: one node of
# eight, two nodes over InfiniBand, two Sparks (one GPU each) and a PCIe box.
sp_e2e(emulate.check.h100x2 RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|$<TARGET_FILE:emu_collectives_check>"
  STDOUT "PASSED: 0 failed check\\(s\\) on 16 devices")
sp_e2e(emulate.check.spark2 RC 0 ARGS "emulate|-p|platforms/dgx-spark.cfg|-n|2|$<TARGET_FILE:emu_collectives_check>"
  STDOUT "PASSED: 0 failed check\\(s\\) on 2 devices")
sp_e2e(emulate.check.rtx3090 RC 0 ARGS "emulate|-p|platforms/rtx3090-x4.cfg|$<TARGET_FILE:emu_collectives_check>"
  STDOUT "PASSED: 0 failed check\\(s\\) on 4 devices")
# Under NCCL_ALGO=Tree the plans change and the data must not.
sp_e2e(emulate.check.tree RC 0
  ARGS "emulate|-p|platforms/superpod-h100.cfg|-n|2|--algo|Tree,Ring|--proto|Simple|$<TARGET_FILE:emu_collectives_check>"
  STDOUT "PASSED: 0 failed check\\(s\\) on 16 devices.* Tree +Simple")

# One process per GPU started as by mpirun (--ppn): private globals, each
# process its node's GPUs and host name, the unique id broadcast over MPI.
sp_e2e(emulate.mpi.h100x2 RC 0
  ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|8|$<TARGET_FILE:emu_mpi_allreduce>|1048576"
  STDOUT "^16 processes: all-reduce of 1048576 bytes in [0-9.]+ us .*; 0 wrong.* AllReduce +0 +0 +16 ")
# One process per node, on its node's first GPU: a communicator of devices 0 and 8.
sp_e2e(emulate.mpi.ppn1 RC 0
  ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|1|$<TARGET_FILE:emu_mpi_allreduce>|1048576"
  STDOUT "^2 processes: .*; 0 wrong")
sp_e2e(emulate.mpi.spark RC 0
  ARGS "emulate|-p|platforms/dgx-spark.cfg|-n|2|--ppn|1|$<TARGET_FILE:emu_mpi_allreduce>"
  STDOUT "^2 processes: all-reduce of 33554432 bytes .*; 0 wrong")
# Tensor- and data-parallel groups by ncclCommSplit, one process per GPU.
sp_e2e(emulate.mpi.split RC 0 ARGS "emulate|-p|platforms/superpod-h100.cfg|-n|4|--ppn|8|$<TARGET_FILE:emu_mpi_split>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 32 processes")
# MPI point-to-point: rings, any source, order, non-blocking, truncation;
# the NCCL id sent to each process; a receive nobody sends to is a hang.
sp_e2e(emulate.mpi.p2p RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|8|$<TARGET_FILE:emu_mpi_p2p>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 16 processes"
  STDERR "MPI_Recv \\(process 0\\): the message is longer than the receive buffer")
# The same with every message between nodes, each taking time on the
# network: order and any-source matching hold while data is on its way.
sp_e2e(emulate.mpi.p2p_nodes RC 0 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|4|--ppn|1|$<TARGET_FILE:emu_mpi_p2p>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 4 processes")
sp_e2e(emulate.mpi.p2p_hang RC 4 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|3|--ppn|1|$<TARGET_FILE:emu_mpi_p2p>|hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Finalize.*process 2 \\(node 2\\) never returned from main: it waits in MPI_Recv \\(or MPI_Wait\\) of a message from process 0 with tag 77: none was sent")
set_tests_properties(e2e.emulate.mpi.p2p_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# MPI_Waitany and MPI_Testany hand back messages in the order they arrive;
# a wait for what nobody sends is reported as a hang.
sp_e2e(emulate.mpi.any RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|4|$<TARGET_FILE:emu_mpi_any>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 8 processes")
sp_e2e(emulate.mpi.any_hang RC 4 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|3|--ppn|1|$<TARGET_FILE:emu_mpi_any>|hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Waitany of 1 request\\(s\\), none of which can complete; the first, MPI_Recv \\(or MPI_Wait\\) of a message from process 2 with tag 9: none was sent")
set_tests_properties(e2e.emulate.mpi.any_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# MPI_Waitsome and MPI_Testsome likewise, two done at once together; MPI's
# group unions, intersections, differences, ranges and comparisons;
# MPI_Comm_create_group called by the group alone, and a member that never comes.
sp_e2e(emulate.mpi.some RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|4|$<TARGET_FILE:emu_mpi_some>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 8 processes"
  STDERR "MPI_Group_range_incl \\(process 0\\): rank 1 is listed twice")
sp_e2e(emulate.mpi.some_odd RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|5|$<TARGET_FILE:emu_mpi_some>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 5 processes")
sp_e2e(emulate.mpi.some_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|4|$<TARGET_FILE:emu_mpi_some>|hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Waitsome of 1 request\\(s\\), none of which can complete")
set_tests_properties(e2e.emulate.mpi.some_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sp_e2e(emulate.mpi.create_group_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|4|$<TARGET_FILE:emu_mpi_some>|cghang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Comm_create_group \\(MPI exchange number 0 on a communicator of 3 process\\(es\\) that MPI_Comm_create_group made\\): process\\(es\\) 2 \\(rank 2\\) of its 3 never called it \\(or called it with the group in another order\\)")
set_tests_properties(e2e.emulate.mpi.create_group_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# CUDA's legacy default stream synchronizes with the device's blocking
# streams (not non-blocking ones, nor other devices'); an all-reduce sees
# what a NULL-stream copy wrote before it. These tests of ordering time it
# to the nanosecond, without the launches' host time (--launch-costs off);
# emulate.launch_costs tests that.
sp_e2e(emulate.legacy_stream RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|off|$<TARGET_FILE:emu_legacy_stream>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
# ... beside NCCL groups (launched together: no implicit wait between their
# operations), synchronous copies (not waiting for non-blocking streams) and
# polling; a hang through an implicit wait names it.
sp_e2e(emulate.legacy_groups RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_legacy_groups>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.legacy_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_legacy_hang>"
  STDERR "device 0's stream 1 never finished the NULL stream's implicit wait for a blocking stream's earlier work: device 0's stream 0 never finished the AllReduce it waits for")
set_tests_properties(e2e.emulate.legacy_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# A wait for an event recorded behind a collective that never ends names the record's stream.
sp_e2e(emulate.event_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_event_hang>"
  STDERR "device 0's stream 1 never finished a wait for an event: device 0's stream 0 never finished the event record it waits for \\(stuck on earlier work\\)")
set_tests_properties(e2e.emulate.event_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# cudaStreamLegacy and cudaStreamPerThread (each thread's own blocking stream).
sp_e2e(emulate.per_thread_stream RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|off|$<TARGET_FILE:emu_per_thread_stream>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
# Compiled for the per-thread default stream (nvcc --default-stream
# per-thread): the NULL stream is each thread's own for CUDA's calls and
# the kernels, the legacy one for NCCL; by scalepath from the C file, or
# built with the define; a shared object cannot be recompiled.
sp_e2e(emulate.ptds RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|off|--default-stream|per-thread|tests/data/emu/ptds.c"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.ptds_so RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|off|$<TARGET_FILE:emu_ptds>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.ptds_legacy RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--default-stream|legacy|tests/data/emu/ptds.c"
  STDERR "compile with --default-stream per-thread")
sp_e2e(emulate.ptds_so_refused RC 2
  ARGS "emulate|-p|platforms/dgx-h100.cfg|--default-stream|per-thread|$<TARGET_FILE:emu_ptds>"
  STDERR "ptds.so: error: --default-stream is for a PROGRAM.c")
sp_e2e(emulate.ptds_bad RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--default-stream|perthread|tests/data/emu/ptds.c"
  STDERR "--default-stream: expected legacy, null or per-thread, got \"perthread\"")
sp_e2e(emulate.cflags_ptds RC 0 ARGS "emulate|--default-stream|per-thread|--cflags"
  STDOUT "-shared -fPIC -I.*sim/emu/include -DCUDA_API_PER_THREAD_DEFAULT_STREAM")
# Peer access (NVLink peers, not across nodes, not PCIe without P2P), its
# errors, cudaMemcpyPeer serialized with the devices' work, the async one
# on its stream, data checked; cudaMemGetInfo.
sp_e2e(emulate.peer RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--launch-costs|off|$<TARGET_FILE:emu_peer>"
  STDOUT "^PASSED: 0 failed check\\(s\\)"
  STDERR "cudaErrorPeerAccessUnsupported: cudaDeviceEnablePeerAccess\\(8\\): device 0 cannot reach its memory \\(another node\\)")
sp_e2e(emulate.peer_pcie RC 0 ARGS "emulate|-p|platforms/rtx3090-x4.cfg|$<TARGET_FILE:emu_peer>|nop2p"
  STDOUT "^PASSED: 0 failed check\\(s\\)"
  STDERR "no NVLink, and PCIe without peer-to-peer DMA")
# Thread-local storage: a program with __thread variables runs its threads
# on system threads (--os-threads auto) and each reads its own; pthread
# keys are per emulated thread in either mode, destructors in rounds.
sp_e2e(emulate.tls RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_tls>"
  STDOUT "^PASSED: 0 failed check\\(s\\).*each thread ran on a system thread of its own")
sp_e2e(emulate.tls_ppn RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_tls>"
  STDOUT "^PASSED: 0 failed check\\(s\\).PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.tls_keys RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--os-threads|off|$<TARGET_FILE:emu_tls>|keys"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.tls_shared RC 1 ARGS "emulate|-p|platforms/dgx-h100.cfg|--os-threads|off|$<TARGET_FILE:emu_tls>"
  STDOUT "FAILED: thread 1: its __thread variable reads 4")
sp_e2e(emulate.os_threads_on RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--os-threads|on|$<TARGET_FILE:emu_threads>"
  STDOUT "PASSED: 0 failed check.*each thread ran on a system thread of its own")
# System threads get the stack an actor gets (8 MiB), whatever RLIMIT_STACK says.
add_test(NAME e2e.emulate.tls_stack COMMAND sh -c "ulimit -s 2048 && exec \"$0\" \"$@\""
  $<TARGET_FILE:scalepath> emulate -p platforms/dgx-h100.cfg $<TARGET_FILE:emu_tls>
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.tls_stack PROPERTIES LABELS e2e PASS_REGULAR_EXPRESSION "PASSED: 0 failed check")
sp_e2e(emulate.os_threads_bad RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--os-threads|maybe|$<TARGET_FILE:emu_tls>"
  STDERR "--os-threads: expected auto, on or off, got \"maybe\"")
# MPI groups: incl, excl, translate, MPI_Comm_create in the group's order
# (MPI and NCCL on it); processes that pass different groups are told.
sp_e2e(emulate.mpi.groups RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|4|$<TARGET_FILE:emu_mpi_groups>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 8 processes"
  STDERR "MPI_Group_incl \\(process 0\\): rank 0 is listed twice")
sp_e2e(emulate.mpi.groups_odd RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|5|$<TARGET_FILE:emu_mpi_groups>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 5 processes")
sp_e2e(emulate.mpi.groups_mismatch RC 1 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|4|$<TARGET_FILE:emu_mpi_groups>|mismatch"
  STDERR "MPI_Comm_create \\(process 0\\): the processes passed different groups that overlap")
# MPI communicators: split by node, by group, by key; dup, self, free;
# reduce, gather and scatter on a group; NCCL communicators made on them.
sp_e2e(emulate.mpi.comms RC 0 ARGS "emulate|-p|platforms/superpod-h100.cfg|-n|2|--ppn|8|$<TARGET_FILE:emu_mpi_comms>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 16 processes"
  STDERR "MPI_Barrier \\(process [0-9]+\\): a communicator this process has freed")
sp_e2e(emulate.mpi.comms_spark RC 0 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|3|--ppn|1|$<TARGET_FILE:emu_mpi_comms>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 3 processes")
sp_e2e(emulate.mpi.comms_one RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_mpi_comms>"
  STDOUT "^PASSED: 0 failed check\\(s\\) over 1 processes")
sp_e2e(emulate.mpi.comms_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|4|$<TARGET_FILE:emu_mpi_comms>|hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Barrier \\(MPI exchange number 0 on a communicator of 4 process\\(es\\) that MPI_Comm_split_type made\\): process\\(es\\) 1 \\(rank 1\\) of its 4 never called it.*process 1 \\(node 0\\) never returned from main: it waits in MPI_Finalize \\(MPI exchange number 1\\): process\\(es\\) 0, 2, 3 of 4")
sp_e2e(emulate.mpi.comms_recv_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|4|$<TARGET_FILE:emu_mpi_comms>|recv_hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Recv \\(or MPI_Wait\\) of a message from rank 0 \\(process 3\\) with tag 9 on a communicator of 4 that MPI_Comm_split made: none was sent")
set_tests_properties(e2e.emulate.mpi.comms_hang e2e.emulate.mpi.comms_recv_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Host threads: one per GPU, each with its own device, error and group;
# mutexes, conditions, barriers, joins; threads in several processes.
sp_e2e(emulate.threads RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_threads>"
  STDOUT "^PASSED: 0 failed check\\(s\\), 8 ranks in 1 process\\(es\\).*AllReduce +0 +0 +8 +- +16384 ")
sp_e2e(emulate.threads_mpi RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--ppn|4|$<TARGET_FILE:emu_threads>"
  STDOUT "^PASSED: 0 failed check\\(s\\), 16 ranks in 8 process\\(es\\).*AllReduce +0 +0 +16 +- +16384 ")
sp_e2e(emulate.threads_spark RC 0 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|4|--ppn|1|$<TARGET_FILE:emu_threads>"
  STDOUT "^PASSED: 0 failed check\\(s\\), 4 ranks in 4 process\\(es\\)")
sp_e2e(emulate.threads_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_threads>|hang"
  STDERR "the program never returned from main: it waits in pthread_join of thread 1, which never returned.*thread 1 of the program never returned from its start function: it waits for work that cannot finish.*device 0's stream 0 never finished AllReduce number 0 on communicator 0: rank\\(s\\) 1 of 8 never reached it")
sp_e2e(emulate.threads_deadlock RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_threads>|deadlock"
  STDERR "thread 1 of process 0 \\(node 0\\) never returned from its start function: it waits in pthread_mutex_lock of a mutex that thread 2 of process 0 holds.*thread 2 of process 1 \\(node 0\\) never returned from its start function: it waits in pthread_mutex_lock of a mutex that thread 1 of process 1 holds")
sp_e2e(emulate.threads_sync RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_threads_sync>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
# Two processes, each with its own threads, objects and GPUs.
sp_e2e(emulate.threads_sync_ppn RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_threads_sync>"
  STDOUT "^PASSED: 0 failed check\\(s\\).*PASSED: 0 failed check\\(s\\)")
# Under ASan: whole stacks, so that tests/lsan.supp can name the SimGrid
# frame of the one leak this run shows (SimGrid's, not scalepath's).
set_tests_properties(e2e.emulate.threads_sync_ppn PROPERTIES ENVIRONMENT "ASAN_OPTIONS=fast_unwind_on_malloc=0")
file(WRITE ${SP_OUT}/emu-setname.c "#include <pthread.h>\nint main(void) { return pthread_setname_np(pthread_self(), \"x\"); }\n")
sp_e2e(emulate.pthread_setname RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_OUT}/emu-setname.c"
  STDERR "pthread_setname_np is not provided by scalepath emulate")
set_tests_properties(e2e.emulate.threads_hang e2e.emulate.threads_deadlock PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Polling (cudaStreamQuery, cudaEventQuery, MPI_Test, MPI_Testall,
# MPI_Iprobe) moves simulated time on instead of spinning at one instant.
sp_e2e(emulate.polling RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|--no-data|$<TARGET_FILE:emu_polling>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.polling_spark RC 0 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|3|--ppn|1|--no-data|$<TARGET_FILE:emu_polling>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.polling_threads RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|off|$<TARGET_FILE:emu_polling_threads>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
file(WRITE ${SP_OUT}/emu-own-trylock.c "#include <errno.h>\n#include <pthread.h>\nstatic pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;\nint main(void) { pthread_mutex_lock(&m); while (pthread_mutex_trylock(&m) == EBUSY) ; return 0; }\n")
sp_e2e(emulate.own_trylock_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_OUT}/emu-own-trylock.c"
  STDERR "the program never returned from main: it waits in pthread_mutex_trylock, polling for what never comes")
file(WRITE ${SP_OUT}/emu-detached.c "#include <pthread.h>\n#include <semaphore.h>\nstatic sem_t s;\nstatic void *f(void *a) { sem_wait(&s); return a; }\nint main(void) { pthread_t t; sem_init(&s, 0, 0); pthread_create(&t, 0, f, 0); pthread_detach(t); return 0; }\n")
sp_e2e(emulate.detached_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_OUT}/emu-detached.c"
  STDOUT "main returned, but thread\\(s\\) it started never did"
  STDERR "thread 1 of the program never returned from its start function: it waits in sem_wait on a semaphore that no thread posts")
sp_e2e(emulate.polling_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_polling>|hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Test, polling for what never comes")
sp_e2e(emulate.probe_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_polling>|probe_hang"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Probe of a message from process 1 with tag 98: none was sent")
set_tests_properties(e2e.emulate.polling_hang e2e.emulate.own_trylock_hang e2e.emulate.detached_hang e2e.emulate.probe_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# Calls the emulator does not provide are compile errors, not silent differences.
file(WRITE ${SP_OUT}/emu-pthread-exit.c "#include <pthread.h>\nstatic void *f(void *a) { pthread_exit(a); }\nint main(void) { pthread_t t; return pthread_create(&t, 0, f, 0); }\n")
sp_e2e(emulate.pthread_exit RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_OUT}/emu-pthread-exit.c"
  STDERR "pthread_exit is not provided by scalepath emulate: return from the start function instead")
file(WRITE ${SP_OUT}/emu-c11-threads.c "#include <threads.h>\nint main(void) { return 0; }\n")
sp_e2e(emulate.c11_threads RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_OUT}/emu-c11-threads.c"
  STDERR "C11 <threads.h> is not provided; use <pthread.h>")
# Grouped sends from one root to every GPU of two SuperPOD nodes take the
# time of a scatter: each send to another node and rail is relayed through
# the root node's GPU on that rail (PXN), as NCCL does and as its scatter is.
sp_e2e(emulate.pxn_sends RC 0 ARGS "emulate|-p|platforms/superpod-h100.cfg|-n|2|$<TARGET_FILE:emu_pxn_sends>"
  STDOUT "scatter: [0-9.]+ ms, grouped sends: [0-9.]+ ms.pxn: ok")
# ... and a relayed send that is never received hangs its stream, reported.
sp_e2e(emulate.pxn_unmatched RC 4
  ARGS "emulate|-p|platforms/superpod-h100.cfg|-n|2|$<TARGET_FILE:emu_pxn_sends>|unmatched"
  STDERR "device 0's stream 0 never finished: its ncclSend to rank 9 .message 0 on communicator 0. has no matching ncclRecv")
set_tests_properties(e2e.emulate.pxn_unmatched PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# A root that comes late: no rank sees its output before the root's data could reach it.
sp_e2e(emulate.root_late RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_root_late>"
  STDOUT "^Broadcast: 0 wrong.Scatter: 0 wrong.Reduce: 0 wrong.Gather: 0 wrong")
# A late rank in a tree (and NVLS-Tree) all-reduce across two nodes: no
# rank ends before the late one begins plus the on-time duration.
foreach(a Tree NVLSTree)
  sp_e2e(emulate.late_member.${a} RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--launch-costs|off|--algo|${a}|$<TARGET_FILE:emu_late_member>"
    STDOUT "^early: 0")
  sp_e2e(emulate.late_member.${a}.no_data RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--launch-costs|off|--algo|${a}|--no-data|$<TARGET_FILE:emu_late_member>"
    STDOUT "^early: 0")
endforeach()
# The last rank into ncclCommInitRank returns at once; its later hang is its own.
sp_e2e(emulate.mpi.init_then_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|2|$<TARGET_FILE:emu_init_then_hang>"
  STDERR "process 1 \\(node 0\\) never returned from main: it waits for work that cannot finish.*device 1's stream 0 never finished AllReduce")
set_tests_properties(e2e.emulate.mpi.init_then_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sp_e2e(emulate.mpi.too_many RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|9|$<TARGET_FILE:emu_mpi_allreduce>"
  STDERR "--ppn 9: a node of dgx-h100 has fewer GPUs")
sp_e2e(emulate.mpi.hang RC 4 ARGS "emulate|-p|platforms/dgx-spark-switch.cfg|-n|4|--ppn|1|$<TARGET_FILE:emu_mpi_hang>"
  STDERR "process 0 \\(node 0\\) never returned from main: it waits in MPI_Bcast \\(MPI exchange number 0\\): process\\(es\\) 1 of 4 never called it.*process 2 \\(node 2\\) never returned.*process 3 \\(node 3\\)")
set_tests_properties(e2e.emulate.mpi.hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")

# Calls a program gets wrong fail with NCCL's and CUDA's codes and a message.
sp_e2e(emulate.misuse RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_misuse>"
  STDOUT "^0 unexpected result.* Broadcast +0 +1 +4 "
  STDERR "rank 3 calls ncclBroadcast.*where rank\\(s\\) before it called ncclAllReduce.*its 4 other operation\\(s\\) are dropped.*22 NCCL, CUDA, MPI or thread call\\(s\\) failed")
# A rank that never calls: exit 4, the missing rank named, no output file.
sp_e2e(emulate.hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|-o|${SP_OUT}/emu-hang.h5|$<TARGET_FILE:emu_hang>"
  STDERR "never returned from main.*device 0's stream 0 never finished AllReduce number 0 on communicator 0: rank\\(s\\) 3 of 4 never reached it \\(never called it\\)"
  ABSENT "${SP_OUT}/emu-hang.h5")
# LeakSanitizer's exit scan faults on the stacks of the actors a deadlock
# leaves blocked inside SimGrid; valgrind checks this path instead (below).
set_tests_properties(e2e.emulate.hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
sp_e2e(emulate.init_hang RC 4 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_init_hang>"
  STDERR "the program never returned from main: it waits in ncclCommInitRank \\(communicator 0\\): rank\\(s\\) 1 of 2 never called it")
set_tests_properties(e2e.emulate.init_hang PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
# The program's own options, argv per process, envp.
sp_e2e(emulate.args RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|3|$<TARGET_FILE:emu_args>|-b|64M|x,y"
  STDOUT "rank 0 OK.*rank 1 OK.*rank 2 OK")
# A timeline that cannot be written fails the run, and takes the HDF5 file with it.
sp_e2e(emulate.timeline_unwritable RC 3
  ARGS "emulate|-p|platforms/dgx-h100.cfg|-o|${SP_OUT}/emu-tl.h5|--timeline|${SP_OUT}/no-such-dir/t.json|$<TARGET_FILE:emu_misuse>"
  ABSENT "${SP_OUT}/emu-tl.h5")
# A C file is compiled first; a broken one is reported, not run.
sp_e2e(emulate.compile RC 0 ARGS "emulate|-p|platforms/dgx-spark.cfg|-n|2|workloads/emu/allreduce_perf.c|1024|65536"
  STDOUT "65536 .* 0 +# scalepath")
file(WRITE ${SP_OUT}/emu-broken.c "int main(void) { return undeclared; }\n")
sp_e2e(emulate.compile_error RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_OUT}/emu-broken.c"
  STDERR "emu-broken.c: error: cc could not compile it")
sp_e2e(emulate.no_main RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:simcore>"
  STDERR "error: cannot load it|error: no function main")
sp_e2e(emulate.no_main_so RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_no_main>"
  STDERR "no_main.so: error: no function main in it")
sp_e2e(emulate.bad_sm_contention RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--sm-contention|maybe|$<TARGET_FILE:emu_hang>"
  STDERR "--sm-contention: expected on or off, got \"maybe\"")
sp_e2e(emulate.bad_ppn RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--ppn|0|$<TARGET_FILE:emu_hang>" STDERR "--ppn")
# NCCL_ALGO from the environment is checked like --algo, and says where it came from.
add_test(NAME e2e.emulate.bad_env_algo COMMAND ${CMAKE_COMMAND} -E env NCCL_ALGO=Bogus
  ${CMAKE_COMMAND} -DEXE=${SP_EXE} "-DARGS=emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_hang>" -DEXPECT_RC=2
  "-DEXPECT_STDERR=Bogus.*environment variable NCCL_ALGO" -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.bad_env_algo PROPERTIES LABELS e2e TIMEOUT 120)
sp_e2e(emulate.missing RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|no-such-program.so"
  STDERR "no-such-program.so: error: cannot load it")
sp_e2e(emulate.no_program RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg" STDERR "no program")
sp_e2e(emulate.no_platform RC 2 ARGS "emulate|$<TARGET_FILE:emu_hang>" STDERR "no platform")
sp_e2e(emulate.bad_algo RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--algo|Bogus|$<TARGET_FILE:emu_hang>"
  STDERR "Bogus")
sp_e2e(emulate.cflags RC 0 ARGS "emulate|--cflags" STDOUT "-shared -fPIC -I.*sim/emu/include")

# The same answers as the real libraries: every call's return code, the
# error names and messages, and the headers' constants, as CUDA 13.0 and
# NCCL 2.28.9 gave them on a real H100 (bench/emulate_real.sh).
foreach(probe real_codes abi_values)
  add_test(NAME e2e.emulate.real.${probe} COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_emu_real.py
    ${SP_EXE} $<TARGET_FILE:emu_${probe}> ${SP_ROOT}/tests/data/emu/${probe}.expected
    WORKING_DIRECTORY ${SP_ROOT})
  set_tests_properties(e2e.emulate.real.${probe} PROPERTIES LABELS e2e TIMEOUT 120)
endforeach()

# Host-device copies over the GPU's host link, against the same program on a real H100.
add_test(NAME e2e.emulate.host_link COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_hostlink.py
  ${SP_EXE} ${SP_ROOT}/bench/data/emulate/h100-memcpy_perf.txt
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.host_link PROPERTIES LABELS e2e TIMEOUT 120)

# Emulated times are the simulator's: the same as `scalepath nccl` for the
# same collective, HDF5 output, determinism, streams overlapping.
# MPI's data between nodes takes the network's time (docs/emulation.md, "MPI's time").
add_test(NAME e2e.emulate.mpi_time COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_mpi_time.py
  ${SP_EXE} $<TARGET_FILE:emu_mpi_time> $<TARGET_FILE:emu_mpi_p2p> ${SP_OUT}/mpi_time WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.mpi_time PROPERTIES LABELS e2e TIMEOUT 300)
# A rooted collective at a root that is not 0: emulated as `nccl -r` times it,
# and the root matters on a platform that is not symmetric.
add_test(NAME e2e.emulate.root COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_emulate_root.py
  ${SP_EXE} $<TARGET_FILE:emu_rooted> ${SP_OUT}/root WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.root PROPERTIES LABELS e2e TIMEOUT 300)
add_test(NAME e2e.emulate.vs_nccl COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_emulate.py
  --scalepath ${SP_EXE} --perf $<TARGET_FILE:emu_allreduce_perf> --overlap $<TARGET_FILE:emu_overlap>
  --mpi $<TARGET_FILE:emu_mpi_allreduce> --check $<TARGET_FILE:emu_collectives_check>
  --out ${SP_OUT}
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.vs_nccl PROPERTIES LABELS e2e TIMEOUT 300)

# Memory: a run, and the deadlock path for invalid accesses only (SimGrid
# keeps the comms of actors a deadlock leaves blocked: its leaks, not ours).
if(SP_VALGRIND AND NOT SP_SANITIZE)
  add_test(NAME memcheck.emulate COMMAND ${vg} $<TARGET_FILE:scalepath> emulate -p platforms/dgx-h100.cfg
    -o ${SP_OUT}/memcheck-emulate.h5 --timeline ${SP_OUT}/memcheck-emulate.json $<TARGET_FILE:emu_misuse>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_hang COMMAND ${CMAKE_COMMAND} -DEXE=${SP_VALGRIND}
    "-DARGS=-q|${vg_supp}|--leak-check=no|--error-exitcode=9|$<TARGET_FILE:scalepath>|emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_hang>"
    -DEXPECT_RC=4 -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_mpi_p2p COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-spark-switch.cfg -n 4 --ppn 1 $<TARGET_FILE:emu_mpi_p2p>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_mpi_any COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-spark-switch.cfg -n 4 --ppn 1 $<TARGET_FILE:emu_mpi_any>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_mpi_groups COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-spark-switch.cfg -n 3 --ppn 1 $<TARGET_FILE:emu_mpi_groups>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_mpi_any_hang COMMAND ${CMAKE_COMMAND} -DEXE=${SP_VALGRIND}
    "-DARGS=-q|${vg_supp}|--leak-check=no|--error-exitcode=9|$<TARGET_FILE:scalepath>|emulate|-p|platforms/dgx-spark-switch.cfg|-n|3|--ppn|1|$<TARGET_FILE:emu_mpi_any>|hang"
    -DEXPECT_RC=4 -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/expect.cmake
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_mpi_comms COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-spark-switch.cfg -n 3 --ppn 1 $<TARGET_FILE:emu_mpi_comms>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_threads COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg --ppn 2 $<TARGET_FILE:emu_threads>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_polling COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg --ppn 2 --no-data $<TARGET_FILE:emu_polling>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_polling_threads COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg --launch-costs off $<TARGET_FILE:emu_polling_threads>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_threads_sync COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg $<TARGET_FILE:emu_threads_sync>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # Thread contexts (--os-threads auto: the program has __thread variables), keys and their destructors;
  # its 6 MiB stack frame is one frame, not a switch of stacks.
  add_test(NAME memcheck.emulate_tls COMMAND ${vg} --max-stackframe=8000000 $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg --ppn 2 $<TARGET_FILE:emu_tls>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_mpi_some COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg --ppn 4 $<TARGET_FILE:emu_mpi_some>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME memcheck.emulate_peer COMMAND ${vg} $<TARGET_FILE:scalepath> emulate
    -p platforms/dgx-h100.cfg -n 2 --launch-costs off $<TARGET_FILE:emu_peer>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(memcheck.emulate memcheck.emulate_hang memcheck.emulate_mpi_p2p memcheck.emulate_mpi_comms
    memcheck.emulate_mpi_any memcheck.emulate_mpi_any_hang memcheck.emulate_mpi_groups memcheck.emulate_tls
    memcheck.emulate_peer memcheck.emulate_mpi_some
    memcheck.emulate_threads memcheck.emulate_polling memcheck.emulate_threads_sync memcheck.emulate_polling_threads
    PROPERTIES LABELS memcheck
    TIMEOUT 300)
endif()

# The host time of launches, copies, memsets, event records and stream
# synchronization (measured on an H100), and none with --launch-costs off.
sp_e2e(emulate.launch_costs RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|$<TARGET_FILE:emu_launch_costs>"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.launch_costs_off RC 0
  ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|off|$<TARGET_FILE:emu_launch_costs>|off"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
# A platform that gives its host's launch time (nccl.launch_us) sets the launches' (a fixture's 10 us).
sp_e2e(emulate.launch_costs_platform RC 0
  ARGS "emulate|-p|tests/data/emu/slow-host.cfg|$<TARGET_FILE:emu_launch_costs>|10"
  STDOUT "^PASSED: 0 failed check\\(s\\)")
sp_e2e(emulate.launch_costs_bad RC 2 ARGS "emulate|-p|platforms/dgx-h100.cfg|--launch-costs|maybe|$<TARGET_FILE:emu_launch_costs>"
  STDERR "--launch-costs: expected on or off, got \"maybe\"")
# Those host times are the medians of the measured runs, recomputed; the
# H100 platforms' nccl.launch_us is the launch's.
add_test(NAME e2e.emulate.api_costs COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_api_costs.py
  ${SP_ROOT}/sim/emu/emu_int.h ${SP_ROOT}/bench/data/emulate/h100-cuda_api_cost.txt
  ${SP_ROOT}/platforms/dgx-h100.cfg ${SP_ROOT}/platforms/superpod-h100.cfg)
set_tests_properties(e2e.emulate.api_costs PROPERTIES LABELS e2e TIMEOUT 60)
# With them, a one-process 8-GPU all-reduce loop timed as nccl-tests times
# it comes within 1.5x of the published -g 8 logs below 64 KiB.
add_test(NAME e2e.emulate.launch_floor COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_launch_floor.py
  ${SP_EXE} $<TARGET_FILE:emu_allreduce_perf>
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.emulate.launch_floor PROPERTIES LABELS e2e TIMEOUT 120)
# Lab 7 section 7: the NULL stream orders a blocking stream's all-reduce
# after its copy; a non-blocking one reads the buffer first; an event fixes it.
sp_e2e(lab7.default_stream RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|${SP_ROOT}/workloads/emu/default_stream.c"
  STDOUT "blocking +all-reduce ends at +1.382 ms; 0 of 8388608 results wrong.non-blocking +all-reduce ends at +0.115 ms; 8388608 of 8388608 results wrong.non-blocking \\+ event +all-reduce ends at +1.391 ms; 0 of 8388608 results wrong")
# Compiled for the per-thread default stream, the copy goes to the thread's
# own stream, which the blocking stream does not wait for: its all-reduce
# reads the buffer first too.
sp_e2e(lab7.default_stream_ptds RC 0
  ARGS "emulate|-p|platforms/dgx-h100.cfg|--default-stream|per-thread|${SP_ROOT}/workloads/emu/default_stream.c"
  STDOUT "blocking +all-reduce ends at +0.115 ms; 8388608 of 8388608 results wrong.non-blocking +all-reduce ends at +0.115 ms; 8388608 of 8388608 results wrong.non-blocking \\+ event +all-reduce ends at +1.391 ms; 0 of 8388608 results wrong")
# Lab 7 section 8: copies between GPUs, NVLink, NIC, PCIe without peer access.
sp_e2e(lab7.p2p_h100 RC 0 ARGS "emulate|-p|platforms/dgx-h100.cfg|-n|2|--no-data|${SP_ROOT}/workloads/emu/p2p_bandwidth.c"
  STDOUT "\\(GB/s\\) .* 0 +1446\\.5 +370\\.8 +370\\.8 +370\\.8 +370\\.8 +370\\.8 +370\\.8 +370\\.8 +48\\.0 ")
sp_e2e(lab7.p2p_3090 RC 0 ARGS "emulate|-p|platforms/rtx3090-x4.cfg|--no-data|${SP_ROOT}/workloads/emu/p2p_bandwidth.c"
  STDOUT " 0 +0 +0 +0 +0 .*\\(GB/s\\) .* 0 +448\\.3 +24\\.0 +24\\.0 +24\\.0 ")
sp_e2e(lab7.p2p_spark RC 0 ARGS "emulate|-p|platforms/dgx-spark.cfg|-n|2|--no-data|${SP_ROOT}/workloads/emu/p2p_bandwidth.c"
  STDOUT "\\(GB/s\\) .* 0 +109\\.1 +24\\.0 ")
# Lab 7 (docs/labs/lab7-nccl-programs.md): the figures it states.
add_test(NAME e2e.lab7.claims COMMAND ${SP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/check_lab7.py ${SP_EXE}
  $<TARGET_FILE:emu_allreduce_perf> $<TARGET_FILE:emu_overlap> $<TARGET_FILE:emu_memcpy_perf>
  WORKING_DIRECTORY ${SP_ROOT})
set_tests_properties(e2e.lab7.claims PROPERTIES LABELS e2e TIMEOUT 300)
