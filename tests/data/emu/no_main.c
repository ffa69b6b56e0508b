/* no_main.c - a shared object with no main: not a program to emulate. */
int sp_not_a_program(void);

int sp_not_a_program(void)
{
    return 0;
}
