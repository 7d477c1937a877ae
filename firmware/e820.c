/* placeholder: being written */
typedef int placeholder_e820;
