// The whole device program: what NVRTC compiles (with cpp/include and cpp/cuda on the include
// path) and what the emulator compiles with g++.
#include "istft.cu"
#include "phase.cu"
#include "stft.cu"
