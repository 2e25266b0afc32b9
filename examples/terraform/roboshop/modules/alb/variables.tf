variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "certificate_arn" {
  type = string
}

variable "ssl_policy" {
  type    = string
  default = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "frontend_port" {
  type    = number
  default = 8080
}

variable "services" {
  type = map(object({
    port          = number
    path_patterns = list(string)
    priority      = number
    health_path   = string
  }))
  default = {}
}

variable "tags" {
  type    = map(string)
  default = {}
}
