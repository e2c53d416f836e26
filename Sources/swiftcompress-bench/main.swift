print("swiftcompress-bench: no cases yet")
