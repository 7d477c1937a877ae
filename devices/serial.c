/* placeholder: being written */
typedef int placeholder_serial;
