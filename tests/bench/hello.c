/*
 * The baseline of every galley benchmark: the least a FastCGI responder
 * can do behind nginx (accept, write a fixed JSON body, finish).  galley's
 * own request path is measured against this, in the same run.
 */
#include <fcgiapp.h>

int
main(void)
{
	FCGX_Request req;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 200\r\nContent-Type: "
		          "application/json\r\n\r\n{\"hello\":\"world\"}\n",
		          req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
