package dev.atlas.proxy.internal;

import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The I/O transport: Linux epoll (Netty's native transport) when it loads, else NIO. {@code -Datls.proxy.nio=true}
 * forces NIO. Event loops and channels must come from the same transport.
 */
public final class Transport {
    private static final boolean EPOLL = !Boolean.getBoolean("atls.proxy.nio") && epollLoads();

    private Transport() {
    }

    private static boolean epollLoads() {
        try {
            return Epoll.isAvailable();
        } catch (LinkageError e) { // the native jar is missing or for another platform
            return false;
        }
    }

    /** {@code epoll} or {@code nio}. */
    public static String name() {
        return EPOLL ? "epoll" : "nio";
    }

    public static IoHandlerFactory ioHandler() {
        return EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    public static Class<? extends ServerChannel> serverChannel() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static Class<? extends Channel> socketChannel() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
