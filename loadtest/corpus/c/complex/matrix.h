/* A square matrix of long long with a macro-generated API; included by main.c. */
#ifndef KILN_MATRIX_H
#define KILN_MATRIX_H

#include <stdlib.h>

#define DEFINE_MATRIX(T, NAME)                                                  \
    typedef struct { int n; T *cells; } NAME;                                    \
    static inline NAME NAME##_new(int n) {                                       \
        NAME m = { n, calloc((size_t)n * n, sizeof(T)) };                        \
        return m;                                                                \
    }                                                                            \
    static inline T *NAME##_at(NAME *m, int i, int j) { return &m->cells[i * m->n + j]; } \
    static inline NAME NAME##_mul(NAME *a, NAME *b) {                            \
        NAME r = NAME##_new(a->n);                                               \
        for (int i = 0; i < a->n; i++)                                           \
            for (int j = 0; j < a->n; j++) {                                     \
                T s = 0;                                                         \
                for (int k = 0; k < a->n; k++) s += *NAME##_at(a, i, k) * *NAME##_at(b, k, j); \
                *NAME##_at(&r, i, j) = s;                                        \
            }                                                                    \
        return r;                                                                \
    }                                                                            \
    static inline T NAME##_trace(NAME *m) {                                      \
        T s = 0;                                                                 \
        for (int i = 0; i < m->n; i++) s += *NAME##_at(m, i, i);                 \
        return s;                                                                \
    }                                                                            \
    static inline T NAME##_total(NAME *m) {                                      \
        T s = 0;                                                                 \
        for (int i = 0; i < m->n * m->n; i++) s += m->cells[i];                  \
        return s;                                                                \
    }                                                                            \
    static inline void NAME##_free(NAME *m) { free(m->cells); }

DEFINE_MATRIX(long long, MatrixLL)

#endif
