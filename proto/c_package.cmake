# cmake -DIN=x.proto -DOUT=copy.proto -P c_package.cmake
# Writes a copy of IN that tells protobuf-c to generate C names without the proto package
# (LoginRequest, login_request__pack, PACKET_TYPE__LOGIN_REQUEST), as before `package` existed.
file(READ ${IN} text)
file(WRITE ${OUT} "${text}\nimport \"protobuf-c/protobuf-c.proto\";\noption (pb_c_file).c_package = \"\";\n")
