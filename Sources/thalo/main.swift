print("thalo")
