Kind     = "service-defaults"
Name     = "checkout"
Protocol = "http2"
