/* Op codes shared by the native kernels and src/device/cpu/native.ts (keep the lists in sync). */
#ifndef TORCHLET_OPCODES_H
#define TORCHLET_OPCODES_H
enum {
  U_NEG = 0, U_ABS, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_RELU, U_GELU, U_SILU,
  U_ERF, U_RECIPROCAL, U_SQUARE, U_SOFTPLUS
};
enum {
  B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MAXIMUM, B_MINIMUM, B_RELU_BWD, B_SIGMOID_BWD, B_TANH_BWD,
  B_GELU_BWD, B_SILU_BWD
};
#endif
