package dev.papa.daemon.loop;

/** Something registered with the event loop under one descriptor. */
@FunctionalInterface
public interface Handler {
    /** Called on the loop thread with the epoll event bits that are ready. */
    void onReady(int events);
}
