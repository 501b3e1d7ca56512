/* The event loop's per-line calls (read, write, epoll_wait) as plain JNI natives of
 * dev.papa.posix.internal.LoopCalls: a JNI call with primitive arguments skips JNA's
 * dispatch (LoopCallBenchmark: 252 against 477 ns per call, syscall included), and a delivered
 * line makes four to five of these calls (docs/PERFORMANCE.md, fleet). Bound with
 * RegisterNatives by papa_jni_register, which LoopCalls calls once through JNA: the library is
 * loaded by JNA (from the jar), so System.load would need a path that no longer exists. */
#include "papa.h"

#include <jni.h>
#include <stdint.h>

static jlong JNICALL loop_read(JNIEnv *env, jclass c, jint fd, jlong base, jlong off, jlong len) {
  (void) env; (void) c;
  return papa_read(fd, (void *) (intptr_t) base, off, len);
}

static jlong JNICALL loop_write(JNIEnv *env, jclass c, jint fd, jlong base, jlong off, jlong len) {
  (void) env; (void) c;
  return papa_write(fd, (const void *) (intptr_t) base, off, len);
}

static jint JNICALL loop_epoll_wait(JNIEnv *env, jclass c, jint epfd, jlong buf, jint max, jint timeout) {
  (void) env; (void) c;
  return papa_epoll_wait(epfd, (void *) (intptr_t) buf, max, timeout);
}

/* 0, or a negative value when the class or a method is missing (the pending Java exception
 * is cleared: the caller reports the failure). */
PAPA_EXPORT int papa_jni_register(JNIEnv *env) {
  jclass c = (*env)->FindClass(env, "dev/papa/posix/internal/LoopCalls");
  if (c == NULL) {
    (*env)->ExceptionClear(env);
    return -1;
  }
  JNINativeMethod methods[] = {
    {"read", "(IJJJ)J", (void *) loop_read},
    {"write", "(IJJJ)J", (void *) loop_write},
    {"epollWait", "(IJII)I", (void *) loop_epoll_wait},
  };
  if ((*env)->RegisterNatives(env, c, methods, sizeof methods / sizeof methods[0]) != 0) {
    (*env)->ExceptionClear(env);
    return -2;
  }
  return 0;
}
