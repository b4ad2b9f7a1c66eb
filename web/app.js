// app2
