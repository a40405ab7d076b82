// CUDA's built-in vector types (dim3, uint3, float2, ...) for the emulator, with CUDA's sizes and
// alignments, and the make_* helpers. Plain host C++: included by cuda_emu.hpp and registry.hpp.
#pragma once
#if defined(__CUDACC__)
#error "cpp/emu/vector_types.hpp is for the g++ emulator only (nvcc and NVRTC have their own)"
#endif

#define SPECSEP_EMU_VEC1(name, T, align) \
  struct __attribute__((aligned(align))) name { T x; };
#define SPECSEP_EMU_VEC2(name, T, align) \
  struct __attribute__((aligned(align))) name { T x, y; };
#define SPECSEP_EMU_VEC3(name, T) \
  struct name { T x, y, z; };
#define SPECSEP_EMU_VEC4(name, T, align) \
  struct __attribute__((aligned(align))) name { T x, y, z, w; };
#define SPECSEP_EMU_VECS(prefix, T, a1, a2, a4)                                                  \
  SPECSEP_EMU_VEC1(prefix##1, T, a1)                                                            \
  SPECSEP_EMU_VEC2(prefix##2, T, a2)                                                            \
  SPECSEP_EMU_VEC3(prefix##3, T)                                                                \
  SPECSEP_EMU_VEC4(prefix##4, T, a4)                                                            \
  inline prefix##1 make_##prefix##1(T x) { return {x}; }                                        \
  inline prefix##2 make_##prefix##2(T x, T y) { return {x, y}; }                                \
  inline prefix##3 make_##prefix##3(T x, T y, T z) { return {x, y, z}; }                        \
  inline prefix##4 make_##prefix##4(T x, T y, T z, T w) { return {x, y, z, w}; }

SPECSEP_EMU_VECS(char, signed char, 1, 2, 4)
SPECSEP_EMU_VECS(uchar, unsigned char, 1, 2, 4)
SPECSEP_EMU_VECS(short, short, 2, 4, 8)
SPECSEP_EMU_VECS(ushort, unsigned short, 2, 4, 8)
SPECSEP_EMU_VECS(int, int, 4, 8, 16)
SPECSEP_EMU_VECS(uint, unsigned int, 4, 8, 16)
SPECSEP_EMU_VECS(long, long, 8, 16, 16)
SPECSEP_EMU_VECS(ulong, unsigned long, 8, 16, 16)
SPECSEP_EMU_VECS(longlong, long long, 8, 16, 16)
SPECSEP_EMU_VECS(ulonglong, unsigned long long, 8, 16, 16)
SPECSEP_EMU_VECS(float, float, 4, 8, 16)
SPECSEP_EMU_VECS(double, double, 8, 16, 16)

#undef SPECSEP_EMU_VECS
#undef SPECSEP_EMU_VEC1
#undef SPECSEP_EMU_VEC2
#undef SPECSEP_EMU_VEC3
#undef SPECSEP_EMU_VEC4

// Launch dimensions: unspecified components are 1, as in CUDA.
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
