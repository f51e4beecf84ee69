package io.peft4j.cuda;

/** The requested device exists in the configuration but not on this machine / in this build. */
public class DeviceUnavailableException extends RuntimeException {

    private final Device requested;

    public DeviceUnavailableException(Device requested, String message) {
        super(message);
        this.requested = requested;
    }

    /** The device that was asked for. */
    public Device requested() {
        return requested;
    }
}
